"""A stand-in for the packaged API (``build/api``) that moto can deploy.

The real ``sam.yaml`` uses the SAM transform, which moto cannot expand. This one keeps what
deploy-api and plan touch: a ``AWS::Serverless::Function`` whose ``CodeUri`` is the local
``./deployment.zip`` (moto skips the type it does not know, with a warning), a resource moto does
create, the parameters ops.stages passes, and an ``EndpointURL`` output.
"""

import zipfile

SAM_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Description: stand-in for the packaged pet API
Parameters:
  Stage:
    Type: String
  DbSslCaSha256:
    Type: String
    Default: ""
  ReservedConcurrency:
    Type: Number
    Default: -1
Resources:
  APIHandler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.app
      CodeUri: ./deployment.zip
  AccessLogs:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "pets-${Stage}-api-logs"
Outputs:
  EndpointURL:
    Description: the API's base URL
    Value: !Sub "https://abc123.execute-api.${AWS::Region}.amazonaws.com/api/"
"""

INFRA_TEMPLATE = """\
Description: stand-in for the infra stack (with the database parameters deploy-api reads)
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
  SourceCommit:
    Type: String
    Default: ""
  DbMaxCapacity:
    Type: Number
    Default: 2
  DbReaderCount:
    Type: Number
    Default: 0
  EnableDbProxy:
    Type: String
    Default: "false"
Resources:
  Events:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "pets-${Stage}-infra-events"
"""


def make_package(
    root, handler_source="def handler(event, context):\n    return {}\n", reserved_concurrency=None
):
    """Write ``build/api/sam.yaml`` and ``build/api/deployment.zip`` under ``root``; with
    ``reserved_concurrency``, the template declares ReservedConcurrency with that Default."""
    package = root / "build" / "api"
    package.mkdir(parents=True, exist_ok=True)
    template = SAM_TEMPLATE
    if reserved_concurrency is not None:
        template = template.replace(
            "Resources:\n",
            f"  ReservedConcurrency:\n    Type: Number\n    Default: {reserved_concurrency}\n"
            "Resources:\n",
            1,
        )
    (package / "sam.yaml").write_text(template, encoding="utf-8")
    with zipfile.ZipFile(package / "deployment.zip", "w") as archive:
        archive.writestr("app.py", handler_source)
    return package


def make_infra(root):
    folder = root / "cloudformation"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "infra.yaml").write_text(INFRA_TEMPLATE, encoding="utf-8")
    return folder / "infra.yaml"


PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


DATABASE_PARAMETERS = """\
Description: stand-in for pets-<stage>-infra, with the database parameters deploy-api reads
Parameters:
  DbMaxCapacity:
    Type: Number
  DbReaderCount:
    Type: Number
  EnableDbProxy:
    Type: String
Resources:
  Marker:
    Type: AWS::SNS::Topic
"""


def create_infra_stack(cloudformation, stage="dev", **parameters):
    """A moto pets-<stage>-infra stack whose parameters are ``parameters`` (strings)."""
    cloudformation.create_stack(
        StackName=f"pets-{stage}-infra",
        TemplateBody=DATABASE_PARAMETERS,
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
    )
