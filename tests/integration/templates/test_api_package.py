"""The packaged API stack (chalice package + cloudformation/api/merge.yaml), as it is deployed.

These run the real ``chalice package`` once per session (offline: the fixture removes every AWS_*
variable) and assert what the merge must wire: the Lambda in the private subnets with the API
security group, the database settings from the infra stack's exports, a role that can connect as
the stage's API user and nothing else, tracing, logs with retention, alarms and reserved
concurrency.

Marked ``integration``, not ``unit`` like the other template tests: the session fixture runs the
real Chalice packager as a subprocess, which may fetch the Lambda's wheels from PyPI once.
"""

import copy
import importlib.util
import io
import json
import os
import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from samtranslator.translator.transform import transform

from ops import stages
from ops.cfn.packaging import APP_DIR, check_packaged, package
from ops.cli import main
from ops.context import Context
from ops.errors import OpsError
from tests.support.tcpproxy import SilentServer
from tests.support.templates import as_list, chalice_config, statements


def _import(name):
    return {"Fn::ImportValue": {"Fn::Sub": f"pets-${{Stage}}-infra-{name}"}}


BUCKET = {"Fn::ImportValue": {"Fn::Sub": "pets-bootstrap-${Stage}-ArtifactsBucket"}}


def _handler(api):
    return api["Resources"]["APIHandler"]["Properties"]


def test_package_writes_the_template_and_the_zip_it_references(packaged_dir, api):
    assert (packaged_dir / "deployment.zip").stat().st_size > 0
    assert _handler(api)["CodeUri"] == "./deployment.zip"
    assert api["Transform"] == "AWS::Serverless-2016-10-31"


def test_the_zip_holds_sources_not_bytecode(tmp_path):
    # Any test run (or import) leaves chalicelib/__pycache__ behind unless bytecode is off.
    source = APP_DIR / "chalicelib" / "pets.py"
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)))
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    _, zip_path = package("dev", tmp_path / "api", Context(out=io.StringIO(), env=env))
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    assert "app.py" in names and "chalicelib/pets.py" in names
    assert [n for n in names if n.endswith(".pyc") or "__pycache__" in n] == []


def test_stage_is_a_required_parameter(api):
    stage = api["Parameters"]["Stage"]
    assert "Default" not in stage


def test_lambda_runs_in_the_private_subnets_with_the_api_security_group(api):
    assert _handler(api)["VpcConfig"] == {
        "SubnetIds": {"Fn::Split": [",", _import("PrivateSubnetIds")]},
        "SecurityGroupIds": [_import("ApiSecurityGroupId")],
    }


def test_lambda_database_settings_come_from_the_infra_exports_and_name_no_secret(api):
    variables = _handler(api)["Environment"]["Variables"]
    # Reads go where the infra stack says (readers, proxy) and fall back to the writer.
    assert variables["DB_HOST"] == _import("DbApiReadEndpoint")
    assert variables["DB_FALLBACK_HOST"] == _import("DbApiWriterEndpoint")
    assert variables["DB_PORT"] == _import("DbClusterPort")
    assert variables["DB_NAME"] == "pets"
    assert variables["DB_USER"] == {"Fn::Sub": "pets_api_${Stage}"}
    assert variables["DB_AUTH"] == "iam"
    assert variables["DB_SSL_CA"] == {
        "Fn::Sub": ["s3://${Bucket}/rds-ca/${AWS::Region}-${DbSslCaSha256}.pem", {"Bucket": BUCKET}]
    }
    assert not {"DB_PASSWORD", "DB_SECRET_ARN"} & set(variables)


def test_lambda_role_connects_as_its_stage_api_user_only_and_reads_only_the_ca_bundle(api):
    assert _handler(api)["Role"] == {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}
    role = api["Resources"]["ApiHandlerRole"]["Properties"]
    granted = {}
    for policy in role["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                granted.setdefault(action, []).append(statement["Resource"])
    assert set(granted) == {"rds-db:connect", "s3:GetObject", "s3:GetObjectVersion"}
    # The deploy pins DB_SSL_CA to an object version: both reads name the same object.
    assert granted["s3:GetObjectVersion"] == granted["s3:GetObject"]
    (connect,) = granted["rds-db:connect"]
    assert connect["Fn::Sub"][0].endswith(":dbuser:${ConnectResourceId}/pets_api_${Stage}")
    # The cluster's resource ID, or the proxy's when the stage has one.
    assert connect["Fn::Sub"][1] == {"ConnectResourceId": _import("DbApiConnectResourceId")}
    (ca,) = granted["s3:GetObject"]
    assert ca["Fn::Sub"][0].endswith("/rds-ca/${AWS::Region}-${DbSslCaSha256}.pem")
    managed = {arn["Fn::Sub"].rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"]}
    assert managed == {"AWSLambdaVPCAccessExecutionRole", "AWSXRayDaemonWriteAccess"}


def test_every_role_is_the_merge_templates_and_carries_the_stage_boundary(expanded):
    """Neither Chalice nor SAM may generate a role (SAM makes <Function>Role for a function
    without one, CodeDeployServiceRole for a DeploymentPreference without one): the execution
    role would refuse to create it without the boundary, and it would escape review here."""
    roles = {name: r for name, r in expanded["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) == {"ApiHandlerRole", "PreTrafficHookRole", "CodeDeployRole"}
    for role in roles.values():
        assert role["Properties"]["PermissionsBoundary"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/pets-boundary-${Stage}"
        }


def test_tracing_access_logs_and_retention(api):
    resources = api["Resources"]
    assert _handler(api)["Tracing"] == "Active"
    rest = resources["RestAPI"]["Properties"]
    assert rest["TracingEnabled"] is True
    assert rest["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
    }
    function_logs = resources["ApiHandlerLogGroup"]["Properties"]
    assert function_logs["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    for name in ("ApiHandlerLogGroup", "ApiAccessLogGroup"):
        assert resources[name]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_reserved_concurrency_is_a_parameter(api):
    assert _handler(api)["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    # Reserving anything fails in an account with a quota of 10 (new accounts): the default
    # reserves none, and deploy-api reserves what the account has room for.
    assert api["Parameters"]["ReservedConcurrency"]["Default"] == -1


def _gateway_responses(api):
    body = api["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return body["x-amazon-apigateway-gateway-responses"]


def test_a_path_with_no_route_is_the_apis_json_404_not_a_403(api):
    missing = _gateway_responses(api)["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"])["code"] == "NotFound"


@pytest.mark.parametrize(
    ("response_type", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "NotFound"),
        ("THROTTLED", "TooManyRequests"),
        ("DEFAULT_4XX", "ClientError"),
        ("DEFAULT_5XX", "ServerError"),
    ],
)
def test_every_gateway_answer_is_the_apis_json_with_its_headers(api, response_type, code):
    response = _gateway_responses(api)[response_type]
    # Header values are mapping expressions: a quoted string is a static value.
    assert response["responseParameters"] == {
        "gatewayresponse.header.X-Content-Type-Options": "'nosniff'",
        "gatewayresponse.header.Cache-Control": "'no-store'",
    }
    (template,) = response["responseTemplates"].values()
    # $context.error.messageString is the message already in double quotes (a JSON string).
    body = json.loads(template.replace("$context.error.messageString", '"Too Many Requests"'))
    assert body["code"] == code and set(body) == {"code", "message"}


def _alarm_metrics(alarm):
    """``(namespace, metric, dimensions)`` for a plain alarm or each metric of a math alarm."""
    if "MetricName" in alarm:
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        return [(alarm["Namespace"], alarm["MetricName"], dims)]
    found = []
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            found.append((metric["Namespace"], metric["MetricName"], dims))
    return found


def test_alarms_watch_5xx_rate_p99_latency_errors_and_throttles_of_this_api(api):
    stage = chalice_config()["api_gateway_stage"]
    this_api = {"ApiName": {"Ref": "AWS::StackName"}, "Stage": stage}
    this_function = {"FunctionName": {"Ref": "APIHandler"}}
    alarms = {
        name: resource["Properties"]
        for name, resource in api["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched = {
        (namespace, metric): dims
        for alarm in alarms.values()
        for namespace, metric, dims in _alarm_metrics(alarm)
    }
    assert watched == {
        ("AWS/ApiGateway", "5XXError"): this_api,
        ("AWS/ApiGateway", "Count"): this_api,
        ("AWS/ApiGateway", "Latency"): this_api,
        ("AWS/Lambda", "Errors"): this_function,
        ("AWS/Lambda", "Throttles"): this_function,
    }
    latency = next(a for a in alarms.values() if a.get("MetricName") == "Latency")
    assert latency["ExtendedStatistic"] == "p99"
    rate = next(a for a in alarms.values() if "Metrics" in a)
    (expression,) = [q["Expression"] for q in rate["Metrics"] if q.get("ReturnData")]
    assert "100 * errors / requests" in expression
    # The metrics' ApiName is the API's name, which the merge sets to the stack name.
    assert api["Resources"]["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}


def test_endpoint_url_ends_in_the_api_gateway_stage_and_is_exported(api):
    stage = chalice_config()["api_gateway_stage"]
    assert stage == "v1"
    endpoint = api["Outputs"]["EndpointURL"]
    assert endpoint["Value"]["Fn::Sub"].endswith(f"/{stage}/")
    assert endpoint["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-EndpointURL"}
    function = api["Outputs"]["FunctionName"]
    assert function["Value"] == {"Ref": "APIHandler"}
    assert function["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-FunctionName"}


def test_chalice_config_holds_no_secret_and_no_account_specific_id():
    config = chalice_config()
    text = repr(config).lower()
    for word in ("password", "secret", "subnet-", "sg-", "arn:aws"):
        assert word not in text, word


def test_check_packaged_rejects_a_template_the_merge_did_not_reach(api):
    broken = {**api, "Resources": {**api["Resources"]}}
    handler = {**broken["Resources"]["APIHandler"]}
    handler["Properties"] = {
        key: value for key, value in handler["Properties"].items() if key != "VpcConfig"
    }
    broken["Resources"]["APIHandler"] = handler
    check_packaged(api)  # the real one passes
    with pytest.raises(OpsError, match="APIHandler VpcConfig"):
        check_packaged(broken)


def test_cli_packages_into_the_given_directory(tmp_path):

    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    out = io.StringIO()
    code = main(
        ["package-api", "--stage", "prod", "--out", str(tmp_path / "pkg")],
        Context(out=out, err=io.StringIO(), env=env),
    )
    assert code == 0
    assert (tmp_path / "pkg" / "sam.yaml").is_file()
    assert "sha256" in out.getvalue()


def test_chalice_deploy_stops_before_any_aws_call(tmp_path):
    # This repository deploys through CloudFormation (make deploy-api), never `chalice deploy`,
    # which would create the function and REST API outside any stack. The config leaves the
    # role empty (the merge template supplies it), so Chalice refuses in its own validation.
    silent = SilentServer()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{silent.port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # pragma: allowlist secret -- a fake for the refusal
        AWS_EC2_METADATA_DISABLED="true",
    )
    chalice = Path(sys.executable).with_name("chalice")
    try:
        result = subprocess.run(
            [str(chalice), "deploy"], cwd=APP_DIR, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    finally:
        connections = silent.connections
        silent.close()
    assert result.returncode != 0
    assert "must provide an 'iam_role_arn'" in result.stderr + result.stdout
    assert connections == 0
    assert chalice_config()["iam_role_arn"] == ""


# ---------------------------------------------------------------- releases: alias, CodeDeploy


def _expand(api, stage):
    """The packaged template as CloudFormation's SAM transform expands it for ``stage``, offline
    (the real translator; CodeUri as the deploy rewrites it, to an S3 object)."""
    template = copy.deepcopy(api)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": "b", "Key": "api/x.zip", "Version": "1"}

    class NoManagedPolicyNames:  # every managed policy here is named by ARN
        def load(self):
            return {}

    parameters = stages.stack(stage, "api").parameters
    return transform(template, parameters, NoManagedPolicyNames())


@pytest.fixture
def expanded(api):  # per test: the transform reads the region the fake-credentials fixture sets
    return _expand(api, "dev")


def _integrations(definition):
    for path, methods in definition["paths"].items():
        for method, operation in methods.items():
            yield f"{method} {path}", operation["x-amazon-apigateway-integration"]["uri"]


def test_api_gateway_calls_the_live_alias_on_every_route(api, expanded):
    packaged = dict(_integrations(api["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]))
    assert packaged, "no integrations found"
    alias_uri = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            "${Alias}/invocations",
            {"Alias": {"Ref": "APIHandler.Alias"}},
        ]
    }
    assert {route: alias_uri for route in packaged} == packaged
    # As CloudFormation gets it: the alias SAM creates, and the invoke permission on it.
    resources = expanded["Resources"]
    aliases = {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"}
    assert list(aliases) == ["APIHandlerAliaslive"]
    assert aliases["APIHandlerAliaslive"]["Properties"]["Name"] == "live"
    body = resources["RestAPI"]["Properties"]["Body"]
    for route, uri in _integrations(body):
        assert uri["Fn::Sub"][1] == {"Alias": {"Ref": "APIHandlerAliaslive"}}, route
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}


def test_check_packaged_refuses_an_integration_that_bypasses_the_alias(api):
    broken = copy.deepcopy(api)
    definition = broken["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    definition["paths"]["/api/pet/{name}"]["get"]["x-amazon-apigateway-integration"]["uri"] = {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
        "functions/${APIHandler.Arn}/invocations"
    }
    with pytest.raises(OpsError, match="get /api/pet/{name} calls the function, not its alias"):
        check_packaged(broken)


@pytest.mark.parametrize(
    "stage, config", [("dev", "AllAtOnce"), ("prod", "Canary10Percent15Minutes")]
)
def test_codedeploy_shifts_traffic_by_stage_and_rolls_back_on_the_alarms(api, stage, config):
    resources = _expand(api, stage)["Resources"]
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    properties = group["Properties"]
    assert properties["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": config}
    assert properties["AlarmConfiguration"] == {
        "Enabled": True,
        "Alarms": [{"Name": {"Ref": "Api5xxRateAlarm"}}, {"Name": {"Ref": "LambdaErrorsAlarm"}}],
    }
    assert "DEPLOYMENT_STOP_ON_ALARM" in properties["AutoRollbackConfiguration"]["Events"]
    assert properties["ServiceRoleArn"] == {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}
    hooks = resources["APIHandlerAliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert hooks["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHook"}


def test_the_pretraffic_hook_tests_the_new_version_and_may_do_only_that(expanded):
    resources = expanded["Resources"]
    hook = resources["PreTrafficHook"]["Properties"]
    assert hook["Handler"] == "chalicelib.pretraffic.handler"
    assert hook["Runtime"] == resources["APIHandler"]["Properties"]["Runtime"]
    (version,) = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Version"]
    assert hook["Environment"]["Variables"]["TARGET_VERSION"] == {"Ref": version}
    assert "DeploymentPreference" not in str(hook)  # the hook itself is not shifted
    granted = {}
    for policy in resources["PreTrafficHookRole"]["Properties"]["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            for action in as_list(statement["Action"]):
                granted[action] = statement["Resource"]
    assert set(granted) == {
        "lambda:InvokeFunction",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert granted["lambda:InvokeFunction"] == {"Fn::Sub": "${APIHandler.Arn}:*"}
    codedeploy = resources["CodeDeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    invokes = [s for s in statements(codedeploy) if s["Action"] == "lambda:InvokeFunction"]
    assert [s["Resource"] for s in invokes] == [{"Fn::GetAtt": ["PreTrafficHook", "Arn"]}]


def test_published_versions_use_snapstart_on_a_runtime_that_has_it(api):
    handler = _handler(api)
    assert handler["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert handler["AutoPublishAlias"] == "live"
    # SnapStart for Python needs 3.12 or newer; chalice package writes the packaging Python's.
    version = tuple(int(p) for p in handler["Runtime"].removeprefix("python").split("."))
    assert version >= (3, 12)


def test_the_stack_records_its_commit_and_names_its_rollback_alarms(api):
    outputs = api["Outputs"]
    assert outputs["SourceCommit"]["Value"] == {"Ref": "SourceCommit"}
    assert outputs["Api5xxRateAlarmArn"]["Value"] == {"Fn::GetAtt": ["Api5xxRateAlarm", "Arn"]}
    assert outputs["LambdaErrorsAlarmArn"]["Value"] == {"Fn::GetAtt": ["LambdaErrorsAlarm", "Arn"]}
