"""stack-deploy against moto in-process: create, update, no-op, preview, recovery, outputs.

moto's CloudFormation supports few resource types, so these use small SQS/SNS/S3 templates
(tests/support/cfn.py). Where moto differs from AWS it is said at the test: moto records no
per-resource events, computes no outputs for stacks made through change sets, and cannot make a
stack fail, so a ROLLBACK_COMPLETE stack is set up through moto's backend.
"""

import json

import boto3
import pytest
from moto.cloudformation.models import Event, cloudformation_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ops.cfn.changeset import StackSpec
from ops.cfn.deploy import deploy
from ops.cli import main
from ops.errors import OpsError
from tests.support.aws import make_context
from tests.support.cfn import QUEUE_TEMPLATE, TOPIC_AND_BUCKET_TEMPLATE, TOPIC_TEMPLATE, write


def cf():
    return boto3.client("cloudformation", region_name="us-east-1")


def status(name):
    return cf().describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def test_create_makes_the_stack_and_prints_the_change_set(ctx, tmp_path):
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    code = main(
        [
            "stack-deploy",
            "--stack-name",
            "demo",
            "--template-file",
            str(template),
            "--parameter-overrides",
            "QueueName=orders",
            "--tags",
            "project=pets",
        ],
        ctx=ctx,
    )
    assert code == 0, ctx.err.getvalue()
    out = ctx.out.getvalue()
    assert "Change set CREATE for demo" in out
    assert "Action  Logical ID  Type             Replacement" in out
    assert "Add     Queue       AWS::SQS::Queue" in out
    assert "demo: CREATE_COMPLETE" in out
    assert status("demo") == "CREATE_COMPLETE"
    queue_urls = boto3.client("sqs", region_name="us-east-1").list_queues()["QueueUrls"]
    assert any(url.endswith("/orders") for url in queue_urls)
    stack = cf().describe_stacks(StackName="demo")["Stacks"][0]
    assert {"Key": "project", "Value": "pets"} in stack["Tags"]
    markdown = ctx.summary_path.read_text()
    assert "| Action | Logical ID | Type | Replacement |" in markdown
    assert "| Add | `Queue` | AWS::SQS::Queue | - |" in markdown


def test_events_are_streamed_once_each_with_a_progress_line(ctx, tmp_path):
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    deploy(ctx, StackSpec(name="events", template_path=template))
    out = ctx.out.getvalue()
    # moto emits only the stack's own events; each must appear exactly once.
    assert out.count("CREATE_IN_PROGRESS") == 1
    assert out.count("CREATE_COMPLETE                      AWS::CloudFormation::Stack") == 1
    assert "REVIEW_IN_PROGRESS" not in out  # older than the execution: not new
    assert "[events] CREATE_COMPLETE:" in out
    assert "pending" in out and "in progress" in out and "complete" in out


def test_update_changes_the_stack(ctx, tmp_path):
    deploy(ctx, StackSpec(name="grow", template_path=write(tmp_path, "a.yaml", TOPIC_TEMPLATE)))
    bigger = write(tmp_path, "b.yaml", TOPIC_AND_BUCKET_TEMPLATE)
    deploy(ctx, StackSpec(name="grow", template_path=bigger))
    out = ctx.out.getvalue()
    assert "Change set UPDATE for grow" in out
    assert "Add     Bucket      AWS::S3::Bucket" in out
    assert status("grow") == "UPDATE_COMPLETE"
    resources = cf().describe_stack_resources(StackName="grow")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == {"Topic", "Bucket"}


def test_no_changes_as_a_failed_change_set_is_success(ctx, tmp_path):
    """moto answers a parameterless identical template with a FAILED change set."""
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    deploy(ctx, StackSpec(name="same", template_path=template))
    argv = ["stack-deploy", "--stack-name", "same", "--template-file", str(template)]
    assert main(argv, ctx) == 0
    assert "no changes: same already matches" in ctx.out.getvalue()
    # The empty change set is deleted, not left behind (moto still lists the executed one).
    summaries = cf().list_change_sets(StackName="same")["Summaries"]
    assert [s["Status"] for s in summaries] == ["CREATE_COMPLETE"]
    assert "No changes: the stack already matches the template." in ctx.summary_path.read_text()


def test_no_changes_as_a_validation_error_is_success(ctx, tmp_path):
    """moto raises ValidationError "No updates are to be performed." when parameters are given."""
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    spec = StackSpec(name="same2", template_path=template, parameters={"QueueName": "q"})
    deploy(ctx, spec)
    before = ctx.out.getvalue()
    outputs = deploy(ctx, spec)
    after = ctx.out.getvalue()[len(before) :]
    assert "no changes: same2 already matches" in after
    assert "executing" not in after
    assert outputs == {}  # moto computes no outputs for stacks made through change sets


def test_preview_creates_a_change_set_and_changes_nothing(ctx, tmp_path):
    deploy(ctx, StackSpec(name="pre", template_path=write(tmp_path, "a.yaml", TOPIC_TEMPLATE)))
    bigger = write(tmp_path, "b.yaml", TOPIC_AND_BUCKET_TEMPLATE)
    code = main(
        [
            "stack-deploy",
            "--stack-name",
            "pre",
            "--template-file",
            str(bigger),
            "--no-execute-changeset",
        ],
        ctx=ctx,
    )
    assert code == 0
    out = ctx.out.getvalue()
    assert "Add     Bucket      AWS::S3::Bucket" in out
    assert "left for review (not executed)" in out
    assert "aws cloudformation execute-change-set --change-set-name arn:aws:cloudformation" in out
    assert status("pre") == "CREATE_COMPLETE"
    summaries = cf().list_change_sets(StackName="pre")["Summaries"]
    # moto still lists the executed CREATE change set; the preview is the one left AVAILABLE.
    assert [s["ExecutionStatus"] for s in summaries][-1:] == ["AVAILABLE"]
    resources = cf().describe_stack_resources(StackName="pre")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == {"Topic"}


def test_a_stack_in_review_in_progress_is_created(ctx, tmp_path):
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    cf().create_change_set(
        StackName="review",
        ChangeSetName="left-behind",
        ChangeSetType="CREATE",
        TemplateBody=TOPIC_TEMPLATE,
    )
    assert status("review") == "REVIEW_IN_PROGRESS"
    deploy(ctx, StackSpec(name="review", template_path=template))
    assert "Change set CREATE for review" in ctx.out.getvalue()
    assert "review: CREATE_COMPLETE" in ctx.out.getvalue()


def _force_status(name, new_status, failure=None):
    """moto cannot fail a creation; put the stack in the state a failed creation leaves,
    optionally with the failed resource's event."""
    backend = cloudformation_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    stack = next(s for s in backend.stacks.values() if s.name == name)
    stack.status = new_status
    if failure:
        logical_id, reason = failure
        stack.events.append(
            Event(
                stack.stack_id,
                name,
                logical_id,
                f"{name}-{logical_id}",
                "AWS::SNS::Topic",
                "CREATE_FAILED",
                reason,
                None,
            )
        )
    return stack.stack_id


def test_rollback_complete_is_deleted_and_created_again(ctx, tmp_path):
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    deploy(ctx, StackSpec(name="broken", template_path=template))
    old_id = _force_status("broken", "ROLLBACK_COMPLETE", ("Topic", "Topic limit exceeded"))
    deploy(ctx, StackSpec(name="broken", template_path=template))
    out = ctx.out.getvalue()
    assert (
        "broken is in ROLLBACK_COMPLETE: its creation failed (Topic: Topic limit exceeded)" in out
    )
    assert "Deleting it and creating it again" in out
    assert "broken: DELETE_COMPLETE" in out
    new = cf().describe_stacks(StackName="broken")["Stacks"][0]
    assert new["StackStatus"] == "CREATE_COMPLETE"
    assert new["StackId"] != old_id
    old = cf().describe_stacks(StackName=old_id)["Stacks"][0]
    assert old["StackStatus"] == "DELETE_COMPLETE"


def test_rollback_complete_preview_changes_nothing(ctx, tmp_path):
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    deploy(ctx, StackSpec(name="broken2", template_path=template))
    _force_status("broken2", "ROLLBACK_COMPLETE")
    assert deploy(ctx, StackSpec(name="broken2", template_path=template), execute=False) is None
    assert "a deploy would delete it and create it again" in ctx.out.getvalue()
    assert status("broken2") == "ROLLBACK_COMPLETE"


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        ("UPDATE_IN_PROGRESS", "another operation is running"),
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
        ("DELETE_FAILED", "delete it by hand"),
    ],
)
def test_states_that_need_a_human_stop_with_a_hint(ctx, tmp_path, state, hint):
    template = write(tmp_path, "topic.yaml", TOPIC_TEMPLATE)
    deploy(ctx, StackSpec(name="stuck", template_path=template))
    _force_status("stuck", state)
    with pytest.raises(OpsError, match=hint):
        deploy(ctx, StackSpec(name="stuck", template_path=template))


def test_outputs_are_printed_and_returned(ctx, tmp_path):
    """moto computes outputs only for stacks made by CreateStack, so the stack starts that way;
    the deploy (an update through a change set) then prints and returns them."""
    cf().create_stack(
        StackName="out",
        TemplateBody=QUEUE_TEMPLATE,
        Parameters=[{"ParameterKey": "QueueName", "ParameterValue": "jobs"}],
    )
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE.replace("one queue", "a queue"))
    outputs = deploy(ctx, StackSpec(name="out", template_path=template))
    assert outputs["QueueUrl"].endswith("/jobs")
    assert outputs["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:jobs"
    out = ctx.out.getvalue()
    assert "Outputs of out:" in out
    assert f"  QueueArn  {outputs['QueueArn']}" in out
    assert "| `QueueArn` | arn:aws:sqs:us-east-1:123456789012:jobs |" in (
        ctx.summary_path.read_text()
    )


def test_unchanged_parameters_keep_their_previous_value(ctx, tmp_path):
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    deploy(ctx, StackSpec(name="prev", template_path=template, parameters={"QueueName": "keep"}))
    changed = write(tmp_path, "q2.yaml", QUEUE_TEMPLATE.replace("one queue", "still one queue"))
    deploy(ctx, StackSpec(name="prev", template_path=changed))  # no override: previous value
    stack = cf().describe_stacks(StackName="prev")["Stacks"][0]
    assert stack["Parameters"] == [{"ParameterKey": "QueueName", "ParameterValue": "keep"}]


def test_a_template_over_the_inline_limit_goes_inline_as_compact_json_when_that_fits(ctx, tmp_path):
    padding = "".join(f"# comment line {i:05d} to make the template large\n" for i in range(1500))
    commented = write(tmp_path, "commented.yaml", TOPIC_TEMPLATE + padding)
    assert commented.stat().st_size > 51_200
    deploy(ctx, StackSpec(name="commented", template_path=commented))  # no bucket needed
    assert status("commented") == "CREATE_COMPLETE"
    body = cf().get_template(StackName="commented")["TemplateBody"]
    body = body if isinstance(body, dict) else json.loads(body)
    assert body["Resources"] == {"Topic": {"Type": "AWS::SNS::Topic"}}


def test_a_template_over_the_inline_limit_goes_through_s3(ctx, tmp_path):
    # Content, not comments: even its compact form is over the limit.
    padding = "Metadata:\n  Padding: " + "x" * 52_000 + "\n"
    big = write(tmp_path, "big.yaml", TOPIC_TEMPLATE + padding)
    assert big.stat().st_size > 51_200
    spec = StackSpec(name="big", template_path=big)
    with pytest.raises(OpsError, match="pass --s3-bucket"):
        deploy(ctx, spec)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
    deploy(ctx, StackSpec(name="big", template_path=big, s3_bucket="artifacts"))
    assert "uploaded the template" in ctx.out.getvalue()
    keys = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="artifacts")
    assert [k["Key"].split("/")[:2] for k in keys["Contents"]] == [["templates", "big"]]
    assert status("big") == "CREATE_COMPLETE"


def test_aws_region_is_preferred_to_aws_default_region(aws, tmp_path):
    ctx = make_context(env={"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"})
    deploy(ctx, StackSpec(name="eu", template_path=write(tmp_path, "t.yaml", TOPIC_TEMPLATE)))
    eu = boto3.client("cloudformation", region_name="eu-west-1")
    assert eu.describe_stacks(StackName="eu")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
