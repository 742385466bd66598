"""In order only, and rollback triggers: what a stage deploy checks and sends before it changes a
stack. The ancestry check runs real git in a temporary repository (tests/support/gitrepo.py);
CloudFormation is moto, or a Stubber where the request itself is what is checked."""

import boto3
import pytest
from botocore.stub import ANY

from ops.cfn import specs
from ops.cfn.deploy import deploy
from ops.cli import main
from tests.support.apistack import make_infra
from tests.support.aws import bootstrap_stage, create_stack, make_context, stubbed_client
from tests.support.gitrepo import checkout, git_in, make_history

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


@pytest.fixture
def history(tmp_path):
    repo = tmp_path / "repo"
    return repo, make_history(repo)


@pytest.fixture
def bootstrapped(aws):
    """The stage's bootstrap stack and bucket: deploy-infra uploads the host's requirements."""
    bootstrap_stage("artifacts")


def _cf():
    return boto3.client("cloudformation", region_name="us-east-1")


def _context(repo):
    return make_context(git=git_in(repo))


def _parameters(name):
    stack = _cf().describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue") for p in stack["Parameters"]}


@pytest.mark.parametrize("deployed", ["older", "newer"])
def test_a_stage_stack_records_the_commit_it_is_deployed_from(
    bootstrapped, history, tmp_path, deployed
):
    repo, commits = history
    checkout(repo, commits[deployed])
    ctx = _context(repo)
    deploy(ctx, specs.infra(ctx, "dev", commits[deployed], root=make_infra(tmp_path).parent.parent))
    assert _parameters("pets-dev-infra")["SourceCommit"] == commits[deployed]


def test_a_commit_that_descends_from_the_deployed_one_is_deployed(bootstrapped, history, tmp_path):
    repo, commits = history
    create_stack("pets-dev-infra", {"SourceCommit": commits["older"]})
    ctx = _context(repo)
    spec = specs.infra(ctx, "dev", commits["newer"], root=make_infra(tmp_path).parent.parent)
    deploy(ctx, spec)
    assert _parameters("pets-dev-infra")["SourceCommit"] == commits["newer"]
    assert "rolling back" not in ctx.out.getvalue()


@pytest.mark.parametrize("deployed, wanted", [("newer", "older"), ("newer", "side")])
def test_an_older_or_unrelated_commit_is_refused_in_one_line(
    bootstrapped, history, deployed, wanted
):
    repo, commits = history
    create_stack("pets-dev-infra", {"SourceCommit": commits[deployed]})
    checkout(repo, commits[wanted])
    ctx = _context(repo)
    assert main(["deploy-infra", "--stage", "dev"], ctx) == 1
    (line,) = ctx.err.getvalue().splitlines()
    assert line == (
        f"deploy-infra: pets-dev-infra runs {commits[deployed][:12]}, and "
        f"{commits[wanted][:12]} does not descend from it: refusing to go back to an older or "
        "unrelated commit (pass --rollback to do so on purpose)"
    )
    assert _cf().list_change_sets(StackName="pets-dev-infra")["Summaries"] == []
    # Refused before anything was uploaded.
    assert "Contents" not in boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket="artifacts"
    )


def test_rollback_deploys_an_older_commit_and_says_so(bootstrapped, history, tmp_path):
    repo, commits = history
    create_stack("pets-dev-infra", {"SourceCommit": commits["newer"]})
    ctx = make_context(git=git_in(repo), env={"GITHUB_STEP_SUMMARY": str(tmp_path / "sum.md")})
    root = make_infra(tmp_path).parent.parent
    deploy(ctx, specs.infra(ctx, "dev", commits["older"], rollback=True, root=root))
    message = (
        f"pets-dev-infra: rolling back from {commits['newer'][:12]} to {commits['older'][:12]} "
        "(--rollback)"
    )
    assert message in ctx.out.getvalue()
    assert message in (tmp_path / "sum.md").read_text()
    assert _parameters("pets-dev-infra")["SourceCommit"] == commits["older"]


def test_a_recorded_commit_this_clone_lacks_is_an_error_not_a_guess(bootstrapped, history):
    repo, _ = history
    create_stack("pets-dev-infra", {"SourceCommit": "f" * 40})
    ctx = _context(repo)
    assert main(["deploy-infra", "--stage", "dev", "--rollback"], ctx) == 1
    (line,) = ctx.err.getvalue().splitlines()
    assert line.startswith("deploy-infra: cannot tell whether ")
    assert "fetch-depth: 0" in line


def test_deploy_api_refuses_an_older_commit_before_uploading_anything(aws, history, tmp_path):
    repo, commits = history
    create_stack("pets-dev-api", {"SourceCommit": commits["newer"]})
    checkout(repo, commits["older"])
    ctx = _context(repo)
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "sam.yaml").write_text("Resources: {}\n")
    code = main(["deploy-api", "--stage", "dev", "--package-dir", str(package)], ctx)
    assert code == 1
    assert "does not descend from it" in ctx.err.getvalue()


def _alarm_arn(name):
    return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:pets-dev-api-{name}-X1"


def test_infra_change_sets_carry_rollback_triggers_on_the_api_alarms(aws, history, tmp_path):
    """Stubber: the request is what is checked (moto accepts and ignores RollbackConfiguration).
    S3 is moto's: the host's requirements are uploaded first."""
    repo, commits = history
    client, stub = stubbed_client("cloudformation")
    missing = "Stack with id {} does not exist"
    api = {
        "StackName": "pets-dev-api",
        "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": "2026-01-01T00:00:00Z",
        "Outputs": [
            {"OutputKey": "Api5xxRateAlarmArn", "OutputValue": _alarm_arn("Api5xxRateAlarm")},
            {"OutputKey": "LambdaErrorsAlarmArn", "OutputValue": _alarm_arn("LambdaErrorsAlarm")},
            {"OutputKey": "EndpointURL", "OutputValue": "https://x/v1/"},
        ],
    }
    stub.add_client_error("describe_stacks", "ValidationError", missing.format("pets-dev-infra"))
    stub.add_client_error(
        "describe_stacks", "ValidationError", missing.format("pets-bootstrap-dev")
    )
    stub.add_response("describe_stacks", {"Stacks": [api]}, {"StackName": "pets-dev-api"})
    stub.add_client_error("describe_stacks", "ValidationError", missing.format("pets-dev-infra"))
    arn = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ops-deploy-1/1"
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/pets-dev-infra/1"
    stub.add_response(
        "create_change_set",
        {"Id": arn, "StackId": stack_id},
        {
            "StackName": "pets-dev-infra",
            "ChangeSetName": ANY,
            "ChangeSetType": "CREATE",
            "Parameters": [
                {"ParameterKey": "Stage", "ParameterValue": "dev"},
                {"ParameterKey": "SourceCommit", "ParameterValue": commits["newer"]},
            ],
            "Description": ANY,
            "TemplateBody": ANY,
            "Capabilities": ANY,
            "Tags": ANY,
            "RollbackConfiguration": {
                "RollbackTriggers": [
                    {"Arn": _alarm_arn("Api5xxRateAlarm"), "Type": "AWS::CloudWatch::Alarm"},
                    {"Arn": _alarm_arn("LambdaErrorsAlarm"), "Type": "AWS::CloudWatch::Alarm"},
                ],
                "MonitoringTimeInMinutes": 5,
            },
        },
    )
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []}, None)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
    ctx = make_context({"cloudformation": client}, git=git_in(repo), rest_from_boto3=True)
    with stub:
        root = make_infra(tmp_path).parent.parent
        spec = specs.infra(ctx, "dev", commits["newer"], root=root, bucket="artifacts")
        deploy(ctx, spec, execute=False)
        stub.assert_no_pending_responses()


def test_without_an_api_stack_the_old_triggers_are_cleared(aws):
    ctx = make_context()
    assert specs.rollback_configuration(ctx, "prod") == {
        "RollbackTriggers": [],
        "MonitoringTimeInMinutes": 0,
    }
    create_stack("pets-prod-api", {"Api5xxRateAlarmArn": _alarm_arn("A")})
    assert specs.rollback_configuration(ctx, "prod") == {
        "RollbackTriggers": [{"Arn": _alarm_arn("A"), "Type": "AWS::CloudWatch::Alarm"}],
        "MonitoringTimeInMinutes": 15,
    }


ROLE_TEMPLATE = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [%s], Resource: "arn:aws:s3:::pets/*"}
"""


def test_a_preview_lists_widened_permissions_before_the_table(ctx, tmp_path):
    """The deployed template (GetTemplate) against the new one; moto keeps what it was sent."""
    from ops.cfn.changeset import StackSpec  # noqa: PLC0415 -- this test only

    _cf().create_stack(StackName="pets-x", TemplateBody=ROLE_TEMPLATE % "s3:GetObject")
    spec = StackSpec(
        name="pets-x",
        template_body=ROLE_TEMPLATE % "s3:GetObject, s3:PutObject",
        capabilities=("CAPABILITY_IAM",),
    )
    deploy(ctx, spec, execute=False)
    widening = "IAM Role: Allow s3:PutObject on arn:aws:s3:::pets/*"
    out = ctx.out.getvalue()
    assert f"**WIDENS PERMISSIONS** (1): {widening}" in out
    assert out.index("WIDENS PERMISSIONS") < out.index("Logical ID")
    summary = ctx.summary_path.read_text()
    assert "> **WIDENS PERMISSIONS** (1): IAM `Role`: Allow s3:PutObject" in summary
