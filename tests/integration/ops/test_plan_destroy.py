"""plan and destroy against moto in-process, with stand-in templates (tests/support/apistack.py)."""

import json

import boto3
import pytest

from ops.cli import main
from ops.commands.destroy import destroy
from ops.commands.plan import plan
from ops.errors import OpsError
from tests.support.apistack import SAM_TEMPLATE, make_infra, make_package
from tests.support.aws import bootstrap_stage

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def cf():
    return boto3.client("cloudformation", region_name="us-east-1")


@pytest.fixture
def repo(aws, tmp_path):
    """A repository root with the infra template and a packaged API, and a bootstrapped account."""
    make_infra(tmp_path)
    make_package(tmp_path)
    bootstrap_stage("artifacts")
    return tmp_path


def test_plan_of_a_new_stage_reports_both_stacks_and_deploys_nothing(ctx, repo):
    code = main(["plan", "--stage", "dev", "--root", str(repo)], ctx)
    assert code == 0, ctx.err.getvalue()
    report = ctx.out.getvalue()
    assert report.startswith("## Plan for stage `dev`")
    assert "### `pets-dev-infra`: create, 1 change(s)" in report
    assert "| Add | `Events` | AWS::SQS::Queue | - |" in report
    assert "### `pets-dev-api`: create, 2 change(s)" in report
    assert "| Add | `APIHandler` | AWS::Serverless::Function | - |" in report
    assert report in ctx.summary_path.read_text()  # the same report in the job summary
    # The code is named by the key deploy-api would upload it to, but not uploaded.
    assert "sam.yaml: 1 artifact(s) named by content; not uploaded" in ctx.err.getvalue()
    s3 = boto3.client("s3", region_name="us-east-1")
    assert "Contents" not in s3.list_objects_v2(Bucket="artifacts")
    # Nothing executed, no change set left behind.
    sqs = boto3.client("sqs", region_name="us-east-1")
    assert "QueueUrls" not in sqs.list_queues()
    for name in ("pets-dev-infra", "pets-dev-api"):
        assert cf().list_change_sets(StackName=name)["Summaries"] == []


def test_plan_of_a_deployed_unchanged_stage_says_no_changes(ctx, repo):
    cf().create_stack(
        StackName="pets-dev-infra",
        TemplateBody=(repo / "cloudformation" / "infra.yaml").read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    report, ok = plan(ctx, "dev", root=repo)
    assert ok
    assert "### `pets-dev-infra`: no changes" in report
    assert "### `pets-dev-api`: create" in report


def test_plan_reports_a_missing_package_and_fails(ctx, repo):
    (repo / "build" / "api" / "sam.yaml").unlink()
    report, ok = plan(ctx, "dev", root=repo)
    assert not ok
    assert "### `pets-dev-api`: plan failed" in report
    assert "run make package first" in report


def test_plan_of_a_stack_in_rollback_complete_says_it_will_be_recreated(ctx, repo):
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415 -- moto's internals, this test only
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 -- as above

    cf().create_stack(
        StackName="pets-dev-infra",
        TemplateBody=(repo / "cloudformation" / "infra.yaml").read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    # moto cannot fail a creation; set the state a failed creation leaves.
    backend = cloudformation_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    next(
        s for s in backend.stacks.values() if s.name == "pets-dev-infra"
    ).status = "ROLLBACK_COMPLETE"
    report, _ = plan(ctx, "dev", root=repo)
    assert "### `pets-dev-infra`: delete and create again" in report
    assert "| Add | `Events` | AWS::SQS::Queue | - |" in report


def test_destroy_deletes_api_then_infra(ctx, repo):
    for name, body in [
        ("pets-dev-infra", (repo / "cloudformation" / "infra.yaml").read_text()),
        ("pets-dev-api", SAM_TEMPLATE),
    ]:
        cf().create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
        )
    deleted = destroy(ctx, "dev")
    assert deleted == ["pets-dev-api", "pets-dev-infra"]
    out = ctx.out.getvalue()
    assert out.index("deleting pets-dev-api") < out.index("deleting pets-dev-infra")
    assert "pets-dev-api: DELETE_COMPLETE" in out
    assert "final snapshot is kept" in out
    live = [s["StackName"] for s in cf().describe_stacks()["Stacks"]]
    assert live == ["pets-bootstrap-dev"]
    # Run again: nothing left, nothing fails.
    assert destroy(ctx, "dev") == []
    assert "pets-dev-api does not exist; nothing to delete" in ctx.out.getvalue()


def test_destroy_refuses_prod_without_force(ctx, repo):
    cf().create_stack(
        StackName="pets-prod-infra",
        TemplateBody=(repo / "cloudformation" / "infra.yaml").read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}],
    )
    code = main(["destroy", "--stage", "prod"], ctx)
    assert code == 1
    assert "refusing to destroy prod without --force" in ctx.err.getvalue()
    assert [s["StackName"] for s in cf().describe_stacks()["Stacks"]] == [
        "pets-bootstrap-dev",
        "pets-prod-infra",
    ]
    assert main(["destroy", "--stage", "prod", "--force"], ctx) == 0
    assert [s["StackName"] for s in cf().describe_stacks()["Stacks"]] == ["pets-bootstrap-dev"]


def test_unknown_stage_is_refused(ctx):
    with pytest.raises(OpsError, match="unknown stage 'qa'"):
        destroy(ctx, "qa")


def _stubbed_plan_context(repo, infra_has_changes):
    """CloudFormation scripted with Stubber (moto never refuses a change set for a missing
    export); S3 is moto's, for the artifact upload."""
    from botocore.stub import ANY, Stubber  # noqa: PLC0415 -- these two tests only

    from tests.support.aws import make_context  # noqa: PLC0415 -- as above

    client = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(client)
    missing = "Stack with id {} does not exist"
    arn = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ops-plan-1/1"
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/pets-dev-infra/1"
    # No bootstrap stack: no execution role to pass (an administrator's own account).
    stub.add_client_error(
        "describe_stacks", "ValidationError", missing.format("pets-bootstrap-dev")
    )
    stub.add_client_error("describe_stacks", "ValidationError", missing.format("pets-dev-infra"))
    stub.add_response("create_change_set", {"Id": arn, "StackId": stack_id}, None)
    if infra_has_changes:
        infra = {
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": "Events",
                        "ResourceType": "AWS::SQS::Queue",
                    },
                }
            ],
        }
    else:
        infra = {"Status": "FAILED", "StatusReason": "No updates are to be performed."}
    stub.add_response("describe_change_set", infra, {"ChangeSetName": arn})
    stub.add_response("delete_change_set", {}, {"ChangeSetName": arn})
    # plan reads the API stack's deployed template (for the pinned code version): none yet.
    stub.add_client_error("get_template", "ValidationError", missing.format("pets-dev-api"))
    stub.add_client_error("describe_stacks", "ValidationError", missing.format("pets-dev-api"))
    stub.add_response("create_change_set", {"Id": arn, "StackId": stack_id}, None)
    refused = "No export named pets-dev-infra-ApiSecurityGroupId found"
    stub.add_response(
        "describe_change_set", {"Status": "FAILED", "StatusReason": refused}, {"ChangeSetName": ANY}
    )
    stub.add_response("delete_change_set", {}, {"ChangeSetName": arn})
    s3 = boto3.client("s3", region_name="us-east-1")
    ctx = make_context({"cloudformation": client, "s3": s3})
    return ctx, stub


def test_an_api_plan_refused_because_of_pending_infra_changes_is_not_a_failure(repo):
    ctx, stub = _stubbed_plan_context(repo, infra_has_changes=True)
    with stub:
        report, ok = plan(ctx, "dev", root=repo, bucket="artifacts")
        stub.assert_no_pending_responses()
    assert ok
    assert "### `pets-dev-api`: cannot be planned yet" in report
    assert "No export named pets-dev-infra-ApiSecurityGroupId found" in report


def test_an_api_plan_refused_without_infra_changes_fails(repo):
    ctx, stub = _stubbed_plan_context(repo, infra_has_changes=False)
    with stub:
        report, ok = plan(ctx, "dev", root=repo, bucket="artifacts")
    assert not ok
    assert "### `pets-dev-infra`: no changes" in report
    assert "### `pets-dev-api`: plan failed" in report


# moto's CloudFormation handles RDS resources only partly, so the database resources carry a
# false Condition: moto keeps them in the template (which is what destroy reads) but does not
# try to create them.
DB_TEMPLATE = """\
Conditions:
  Never: !Equals [a, b]
Resources:
  Database:
    Type: AWS::RDS::DBCluster
    Condition: Never
    DeletionPolicy: {policy}
    Properties:
      Engine: aurora-mysql
  Writer:
    Type: AWS::RDS::DBInstance
    Condition: Never
    DeletionPolicy: Delete  # Aurora instances hold no data of their own (as infra.yaml has it)
    Properties:
      DBClusterIdentifier: !Ref Database
      DBInstanceClass: db.serverless
      Engine: aurora-mysql
  Events:
    Type: AWS::SQS::Queue
"""


@pytest.mark.parametrize("policy", ["Snapshot", "Retain"])
def test_destroy_deletes_a_database_that_keeps_its_data(ctx, repo, policy):
    """destroy reads the deployed template to check each database's DeletionPolicy."""
    cf().create_stack(StackName="pets-dev-infra", TemplateBody=DB_TEMPLATE.format(policy=policy))
    assert destroy(ctx, "dev") == ["pets-dev-infra"]


def test_destroy_refuses_a_database_without_snapshot_and_deletes_nothing(ctx, repo):
    cf().create_stack(StackName="pets-dev-infra", TemplateBody=DB_TEMPLATE.format(policy="Delete"))
    cf().create_stack(
        StackName="pets-dev-api",
        TemplateBody=SAM_TEMPLATE,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    with pytest.raises(OpsError, match="would delete Database .* DeletionPolicy Delete"):
        destroy(ctx, "dev")
    live = {s["StackName"] for s in cf().describe_stacks()["Stacks"]}
    assert {"pets-dev-infra", "pets-dev-api"} <= live  # not even the API was deleted


def test_plan_of_an_unchanged_build_keeps_the_deployed_code_version(ctx, repo):
    """The plan role cannot read api/*: the pinned version comes from the deployed template."""
    from ops.cfn import artifacts  # noqa: PLC0415 -- this test only

    zip_path = repo / "build" / "api" / "deployment.zip"
    key = artifacts.artifact_key(zip_path)
    pinned = {"Bucket": "artifacts", "Key": key, "Version": "v-deployed"}
    deployed = {
        "Resources": {"APIHandler": {"Type": "AWS::Serverless::Function",
                                     "Properties": {"CodeUri": pinned}}}
    }  # fmt: skip
    assert artifacts._deployed_version(deployed, "APIHandler", "CodeUri", "artifacts", key) == (
        "v-deployed"
    )
    # Another key (a new build) or another bucket is not this object: nothing is reused.
    assert artifacts._deployed_version(deployed, "APIHandler", "CodeUri", "artifacts", "x") is None
    assert artifacts._deployed_version(deployed, "APIHandler", "CodeUri", "other", key) is None
    body = artifacts.packaged_template(
        ctx, repo / "build" / "api" / "sam.yaml", "artifacts", upload_artifacts=False,
        deployed=deployed,
    )  # fmt: skip
    functions = [
        r for r in json.loads(body)["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]  # fmt: skip
    assert functions[0]["Properties"]["CodeUri"] == pinned
