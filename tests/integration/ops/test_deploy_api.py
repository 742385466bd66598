"""deploy-api against moto in-process, with a stand-in package (tests/support/apistack.py).

moto cannot expand the SAM transform, so the stand-in's function is skipped by moto; what is
checked is ours: the uploads, the rewritten CodeUri, the parameters and the endpoint URL.
moto computes outputs only for stacks made by CreateStack (not through change sets), so the
tests that read EndpointURL start from an API stack created that way (``api_stack``); the
deploy itself is then an update through a change set, as every deploy after the first is.
"""

import hashlib
import json

import boto3
import pytest

from ops.cfn.specs import Sources
from ops.commands.deploy_api import deploy_api
from ops.errors import OpsError
from tests.support.apistack import PEM, SAM_TEMPLATE, make_package
from tests.support.aws import bootstrap_stage, lambda_account, make_context, stubbed_client
from tests.support.http import answering, no_network

pytestmark = [
    # moto skips the SAM function of the stand-in package, as its docstring says.
    pytest.mark.filterwarnings("ignore:Tried to parse AWS"),
]


@pytest.fixture
def bootstrap(aws):
    """A pets-bootstrap-dev stack with the ArtifactsBucket output, as the stage bootstrap makes."""
    bootstrap_stage("pets-artifacts-123")
    return "pets-artifacts-123"


@pytest.fixture
def api_stack(bootstrap):
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="pets-dev-api",
        TemplateBody=SAM_TEMPLATE,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    return bootstrap


def test_deploy_api_uploads_rewrites_deploys_and_prints_the_endpoint(ctx, api_stack, tmp_path):
    package = make_package(tmp_path)
    calls = []
    ctx.fetch = answering(PEM, calls=calls)
    url = deploy_api(ctx, "dev", Sources(package_dir=package))
    assert url == "https://abc123.execute-api.us-east-1.amazonaws.com/api/"
    assert f"endpoint: {url}" in ctx.out.getvalue()
    assert calls == ["https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem"]
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=api_stack)["Contents"]]
    zip_keys = [k for k in keys if k.startswith("api/") and k.endswith(".zip")]
    assert len(zip_keys) == 1
    ca_key = f"rds-ca/us-east-1-{hashlib.sha256(PEM).hexdigest()}.pem"  # content-addressed
    assert ca_key in keys
    pem = s3.get_object(Bucket=api_stack, Key=ca_key)["Body"].read()
    assert pem == PEM
    cf = boto3.client("cloudformation", region_name="us-east-1")
    deployed = cf.get_template(StackName="pets-dev-api")["TemplateBody"]
    deployed = deployed if isinstance(deployed, dict) else json.loads(deployed)
    code_uri = deployed["Resources"]["APIHandler"]["Properties"]["CodeUri"]
    assert code_uri == f"s3://{api_stack}/{zip_keys[0]}"
    assert deployed["Resources"]["AccessLogs"]["Properties"]["TopicName"] == {
        "Fn::Sub": "pets-${Stage}-api-logs"
    }  # short-form tags written back in their long form
    stack = cf.describe_stacks(StackName="pets-dev-api")["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params == {
        "Stage": "dev",
        "DbSslCaSha256": hashlib.sha256(PEM).hexdigest(),  # what the Lambda will insist on
        "ReservedConcurrency": "-1",  # moto cannot tell the account's room: kept as deployed
    }  # InfraStackName and ArtifactsBucket are not declared by this template, so not sent
    assert "### API endpoint (dev)" in ctx.summary_path.read_text()


def test_the_same_build_again_is_no_change_and_no_upload(ctx, api_stack, tmp_path):
    package = make_package(tmp_path)
    ctx.fetch = answering(PEM)
    deploy_api(ctx, "dev", Sources(package_dir=package))
    before = len(ctx.out.getvalue())
    ctx.fetch = answering(PEM)
    url = deploy_api(ctx, "dev", Sources(package_dir=package))
    again = ctx.out.getvalue()[before:]
    assert "already uploaded: s3://pets-artifacts-123/api/" in again
    assert "no changes: pets-dev-api already matches" in again
    assert url.endswith("/api/")  # printed from the existing stack's outputs


def test_a_new_build_is_a_new_object_and_an_update(ctx, api_stack, tmp_path):
    ctx.fetch = answering(PEM)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path / "a")))
    package = make_package(tmp_path / "b", handler_source="VERSION = 2\n")
    ctx.fetch = answering(PEM)
    deploy_api(ctx, "dev", Sources(package_dir=package))
    s3 = boto3.client("s3", region_name="us-east-1")
    zips = [
        o for o in s3.list_objects_v2(Bucket=api_stack)["Contents"] if o["Key"].endswith(".zip")
    ]
    assert len(zips) == 2
    assert "Change set UPDATE for pets-dev-api" in ctx.out.getvalue()


def test_bucket_flag_skips_the_bootstrap_lookup(ctx, tmp_path):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mine")
    ctx.fetch = answering(PEM)
    url = deploy_api(ctx, "dev", Sources("mine", make_package(tmp_path)), execute=False)
    assert url is None  # previewed only
    assert "Change set CREATE for pets-dev-api" in ctx.out.getvalue()
    keys = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="mine")
    assert any(o["Key"].endswith(".zip") for o in keys["Contents"])


def test_a_stack_without_endpoint_output_is_an_error(ctx, bootstrap, tmp_path):
    """A first deploy in moto (no outputs through change sets) shows the error's wording."""
    ctx.fetch = answering(PEM)
    with pytest.raises(OpsError, match="pets-dev-api has no EndpointURL output"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))


def test_local_ca_bundle_file_is_used_without_downloading(ctx, api_stack, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(PEM)
    ctx.fetch = no_network
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path), bundle_file=bundle))


def test_without_bootstrap_the_error_says_what_to_do(ctx, tmp_path):
    ctx.fetch = answering(PEM)
    with pytest.raises(OpsError, match="pets-bootstrap-dev stack does not exist.*--bucket"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))


def test_without_a_package_the_error_says_make_package(ctx, bootstrap, tmp_path):
    ctx.fetch = answering(PEM)
    with pytest.raises(OpsError, match="run make package"):
        deploy_api(ctx, "dev", Sources(package_dir=tmp_path / "empty"))


def test_a_bundle_that_is_not_pem_is_refused(ctx, bootstrap, tmp_path):
    ctx.fetch = answering(b"<html>")
    with pytest.raises(OpsError, match="holds no PEM certificate"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))


def test_head_forbidden_without_list_permission_still_uploads(tmp_path):
    """Without s3:ListBucket, S3 answers HEAD on a missing key with 403 (Stubber plays S3)."""
    from botocore.stub import ANY, Stubber  # noqa: PLC0415 -- this test only

    from ops.cfn import artifacts  # noqa: PLC0415 -- as above
    from tests.support.aws import make_context  # noqa: PLC0415 -- as above

    s3 = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(s3)
    stub.add_client_error("head_object", "403", "Forbidden", http_status_code=403)
    expected = {"Bucket": "b", "Key": ANY, "Body": ANY, "ChecksumAlgorithm": "SHA256",
                "ChecksumSHA256": ANY}  # fmt: skip
    stub.add_response("put_object", {"VersionId": "v1"}, expected)
    ctx = make_context({"s3": s3})
    archive = tmp_path / "deployment.zip"
    archive.write_bytes(b"zip")
    with stub:
        key, version = artifacts.upload(ctx, "b", archive)
        stub.assert_no_pending_responses()
    assert version == "v1"
    assert key == artifacts.artifact_key(archive)
    assert key.startswith("api/") and key.endswith(".zip")


class RecordingClient:
    """A real (moto) client that also records the keyword arguments of each call.

    moto does not keep a change set's RoleARN, so the request itself is what is checked.
    """

    def __init__(self, client):
        self._client = client
        self.calls = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith(("get_paginator", "get_waiter")):
            return attribute

        def call(**kwargs):
            self.calls.append((name, kwargs))
            return attribute(**kwargs)

        return call


def test_the_stage_execution_role_is_passed_to_cloudformation(ctx, api_stack, tmp_path):
    """The GitHub deploy role may only pass pets-cfn-exec-<stage>; the change set must name it."""
    cf = boto3.client("cloudformation", region_name="us-east-1")
    role = "arn:aws:iam::123456789012:role/pets-cfn-exec-dev"
    cf.update_stack(
        StackName="pets-bootstrap-dev",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "ArtifactsBucket": {"Value": api_stack},
                    "ExecutionRoleArn": {"Value": role},
                },
            }
        ),
    )
    recorder = RecordingClient(cf)
    ctx._clients["cloudformation"] = recorder  # the Context's client cache: injected, not patched
    ctx.fetch = answering(PEM)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))
    requests = [kwargs for name, kwargs in recorder.calls if name == "create_change_set"]
    assert [r["RoleARN"] for r in requests] == [role]


@pytest.fixture
def versioned(bootstrap):
    boto3.client("s3", region_name="us-east-1").put_bucket_versioning(
        Bucket=bootstrap, VersioningConfiguration={"Status": "Enabled"}
    )
    return bootstrap


def deployed_code_uri(stack="pets-dev-api"):
    cf = boto3.client("cloudformation", region_name="us-east-1")
    body = cf.get_template(StackName=stack)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    functions = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    return functions[0]["Properties"]["CodeUri"]


def test_code_is_pinned_to_the_uploaded_object_version(ctx, versioned, tmp_path):
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="pets-dev-api",
        TemplateBody=SAM_TEMPLATE,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    ctx.fetch = answering(PEM)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))
    uri = deployed_code_uri()
    s3 = boto3.client("s3", region_name="us-east-1")
    versions = s3.list_object_versions(Bucket=versioned, Prefix=uri["Key"])["Versions"]
    assert uri == {"Bucket": versioned, "Key": uri["Key"], "Version": versions[0]["VersionId"]}


def test_an_overwritten_artifact_is_uploaded_again_and_the_new_version_pinned(
    ctx, versioned, tmp_path
):
    """Another stage's role overwrote the object at this build's key: the bytes no longer match."""
    from ops.cfn import artifacts  # noqa: PLC0415 -- this test only

    archive = make_package(tmp_path) / "deployment.zip"
    key = artifacts.artifact_key(archive)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=versioned, Key=key, Body=b"not this build", ChecksumAlgorithm="SHA256")
    key, version = artifacts.upload(ctx, versioned, archive)
    assert "does not hold these bytes; uploading them again" in ctx.out.getvalue()
    pinned = s3.get_object(Bucket=versioned, Key=key, VersionId=version)["Body"].read()
    assert pinned == archive.read_bytes()
    again_key, again_version = artifacts.upload(ctx, versioned, archive)
    assert (again_key, again_version) == (key, version)  # now it matches: reused, not re-sent
    assert "already uploaded: s3://pets-artifacts-123/api/" in ctx.out.getvalue()


def deployed_parameters(stack="pets-dev-api"):
    cf = boto3.client("cloudformation", region_name="us-east-1")
    found = cf.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in found}


@pytest.mark.parametrize(
    ("total", "unreserved", "reserved", "said"),
    [
        # A new account: a quota of 10, and reserving anything would leave fewer unreserved.
        (10, 10, "-1", "reserving no concurrency: 10 does not fit"),
        (1000, 1000, "10", "reserving 10 concurrent executions"),
        # Other functions hold 895 of 1000: 105 unreserved, only 5 could be reserved.
        (1000, 105, "-1", "reserving no concurrency: 10 does not fit"),
    ],
)
def test_deploy_api_reserves_what_fits_or_none_and_says_which(
    api_stack, tmp_path, total, unreserved, reserved, said
):
    """moto: CloudFormation and S3. Stubber: Lambda's GetAccountSettings (moto lacks it)."""
    client, stub = lambda_account(total, unreserved)
    ctx = make_context({"lambda": client}, rest_from_boto3=True, fetch=answering(PEM))
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))
    stub.assert_no_pending_responses()
    assert deployed_parameters()["ReservedConcurrency"] == reserved
    lines = [line for line in ctx.out.getvalue().splitlines() if "reserving" in line]
    assert len(lines) == 1 and lines[0].startswith(f"deploy-api: {said}")


def test_a_reservation_the_api_already_holds_counts_as_room(api_stack, tmp_path):
    # Deployed with 10 reserved in an account that then has 100 unreserved: exactly the floor,
    # yet the API's own 10 come back when the reservation is replaced, so 10 still fits.
    first, _ = lambda_account(1000, 1000)
    deploy_api(
        make_context({"lambda": first}, rest_from_boto3=True, fetch=answering(PEM)),
        "dev",
        Sources(package_dir=make_package(tmp_path)),
    )
    assert deployed_parameters()["ReservedConcurrency"] == "10"
    again, _ = lambda_account(1000, 100)
    ctx = make_context({"lambda": again}, rest_from_boto3=True, fetch=answering(PEM))
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, handler_source="# v2\n")))
    assert deployed_parameters()["ReservedConcurrency"] == "10"
    assert "deploy-api: reserving 10 concurrent executions" in ctx.out.getvalue()


def test_a_refused_settings_read_keeps_the_deployed_value_and_says_why(api_stack, tmp_path):
    client, stub = stubbed_client("lambda")
    stub.add_client_error(
        "get_account_settings", service_error_code="AccessDeniedException", http_status_code=403
    )
    stub.activate()
    ctx = make_context({"lambda": client}, rest_from_boto3=True, fetch=answering(PEM))
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path)))
    assert deployed_parameters()["ReservedConcurrency"] == "-1"
    assert ctx.err.getvalue().startswith(
        "deploy-api: cannot read the account's Lambda settings (AccessDeniedException"
    )
    assert "the deploy role needs lambda:GetAccountSettings" in ctx.out.getvalue()
