"""stack-deploy where moto cannot go: botocore Stubber plays CloudFormation's answers.

moto never fails a stack operation (it has no rollback), never emits per-resource events and
never answers a change set with the reason text "No updates are to be performed." inside a
FAILED change set, so those paths are scripted here call by call. The scripts follow the order
of calls in ops.cfn.changeset / ops.cfn.execute, which is part of what is tested.
"""

import datetime as dt
import io

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.cfn.changeset import StackSpec
from ops.cfn.deploy import deploy
from ops.cfn.execute import Follower, follow, raise_failure
from ops.cli import main
from ops.errors import OpsError
from tests.support.aws import make_context
from tests.support.cfn import QUEUE_TEMPLATE, write

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/pets-x/1"
CS_ARN = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ops-deploy-1/1"
T0 = dt.datetime(2026, 11, 27, 23, 0, 0, tzinfo=dt.UTC)


def stubbed():
    client = boto3.client("cloudformation", region_name="us-east-1")
    return client, Stubber(client)


def context_for(client, env=None):
    return make_context({"cloudformation": client}, env=env)


def stack(status, outputs=None):
    entry = {
        "StackId": STACK_ID,
        "StackName": "pets-x",
        "StackStatus": status,
        "CreationTime": T0,
        "Parameters": [{"ParameterKey": "QueueName", "ParameterValue": "q"}],
    }
    if outputs:
        entry["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [entry]}


def event(n, logical_id, status, reason=None, resource_type="AWS::SQS::Queue"):
    entry = {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": "pets-x",
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": STACK_ID if logical_id == "pets-x" else f"phys-{logical_id}",
        "ResourceType": resource_type,
        "Timestamp": T0 + dt.timedelta(seconds=n),
        "ResourceStatus": status,
    }
    if reason:
        entry["ResourceStatusReason"] = reason
    return entry


STACK = "AWS::CloudFormation::Stack"
ROOT_CAUSE = (
    "Resource handler returned message: queue name already exists (HandlerErrorCode: AlreadyExists)"
)


def test_failed_update_prints_the_root_cause_first_and_fails(tmp_path):
    client, stub = stubbed()
    stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": "pets-x"})
    stub.add_response(
        "create_change_set",
        {"Id": CS_ARN, "StackId": STACK_ID},
        {
            "StackName": "pets-x",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": [{"ParameterKey": "QueueName", "ParameterValue": "new"}],
            "Description": ANY,
            "TemplateBody": ANY,
        },
    )
    changes = [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "Queue",
                "ResourceType": "AWS::SQS::Queue",
                "Replacement": "True",
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "Topic",
                "ResourceType": "AWS::SNS::Topic",
                "Replacement": "False",
            },
        },
    ]
    stub.add_response(
        "describe_change_set",
        {"Status": "CREATE_COMPLETE", "ChangeSetId": CS_ARN, "Changes": changes},
        {"ChangeSetName": CS_ARN},
    )
    # The deployed template, compared with the new one for widened permissions.
    stub.add_response(
        "get_template",
        {"TemplateBody": '{"Resources": {}}'},
        {"StackName": "pets-x", "TemplateStage": "Original"},
    )
    old = event(0, "pets-x", "UPDATE_COMPLETE", resource_type=STACK)
    stub.add_response("describe_stack_events", {"StackEvents": [old]}, {"StackName": STACK_ID})
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ARN})
    # First poll: the update has started.
    started = [event(1, "pets-x", "UPDATE_IN_PROGRESS", "User Initiated", STACK)]
    stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [*started, old]}, {"StackName": STACK_ID}
    )
    # Second poll: rolled back. The cascade (Topic cancelled) is older than the root cause.
    later = [
        event(2, "Queue", "UPDATE_IN_PROGRESS"),
        event(3, "Topic", "UPDATE_IN_PROGRESS", resource_type="AWS::SNS::Topic"),
        event(4, "Topic", "UPDATE_FAILED", "Resource update cancelled", "AWS::SNS::Topic"),
        event(5, "Queue", "UPDATE_FAILED", ROOT_CAUSE),
        event(
            6,
            "pets-x",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [Queue].",
            STACK,
        ),
        event(7, "pets-x", "UPDATE_ROLLBACK_COMPLETE", resource_type=STACK),
    ]
    stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events",
        {"StackEvents": [*reversed(later), *started, old]},
        {"StackName": STACK_ID},
    )
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    ctx = context_for(client, env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    with stub:
        code = main(
            [
                "stack-deploy",
                "--stack-name",
                "pets-x",
                "--template-file",
                str(template),
                "--parameter-overrides",
                "QueueName=new",
            ],
            ctx=ctx,
        )
        stub.assert_no_pending_responses()
    assert code == 1
    out, err = ctx.out.getvalue(), ctx.err.getvalue()
    assert "Modify  Queue       AWS::SQS::Queue  True" in out
    assert "Modify  Topic       AWS::SNS::Topic  False" in out
    # Every new event once, none of the old ones.
    assert out.count("UPDATE_FAILED") == 2  # the Queue and Topic event lines
    assert "UPDATE_COMPLETE " not in out.split("executing update of pets-x")[1]
    failed_block = out.split("Failed resources, root cause first:")[1].splitlines()
    assert failed_block[1].startswith("  - Queue (AWS::SQS::Queue): Resource handler returned")
    assert failed_block[2] == "  - Topic (AWS::SNS::Topic): Resource update cancelled"
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "stack-deploy: pets-x ended in UPDATE_ROLLBACK_COMPLETE; root cause: Queue:"
    )
    assert ctx.sleeps == [5]  # one wait between the two polls, on the injected sleep
    assert "Root cause: Queue:" in (tmp_path / "summary.md").read_text()


def test_no_changes_reason_from_aws_in_a_failed_change_set_is_success(tmp_path):
    """Real CloudFormation words it "No updates are to be performed." for some stacks."""
    client, stub = stubbed()
    stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": "pets-x"})
    stub.add_response("create_change_set", {"Id": CS_ARN, "StackId": STACK_ID}, None)
    stub.add_response(
        "describe_change_set",
        {"Status": "CREATE_PENDING", "ChangeSetId": CS_ARN},
        {"ChangeSetName": CS_ARN},
    )
    stub.add_response(
        "describe_change_set",
        {
            "Status": "FAILED",
            "ChangeSetId": CS_ARN,
            "StatusReason": "No updates are to be performed.",
        },
        {"ChangeSetName": CS_ARN},
    )
    stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ARN})
    stub.add_response(
        "describe_stacks",
        stack("UPDATE_COMPLETE", outputs={"EndpointURL": "https://x.example/api/"}),
        {"StackName": "pets-x"},
    )
    ctx = context_for(client)
    spec = StackSpec(name="pets-x", template_path=write(tmp_path, "q.yaml", QUEUE_TEMPLATE))
    with stub:
        outputs = deploy(ctx, spec)
        stub.assert_no_pending_responses()
    assert outputs == {"EndpointURL": "https://x.example/api/"}
    assert "no changes: pets-x already matches" in ctx.out.getvalue()
    assert ctx.sleeps == [2]  # waited once for the pending change set


def test_a_change_set_failing_for_another_reason_is_an_error(tmp_path):
    client, stub = stubbed()
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id pets-x does not exist"
    )
    stub.add_response("create_change_set", {"Id": CS_ARN, "StackId": STACK_ID}, None)
    stub.add_response(
        "describe_change_set",
        {
            "Status": "FAILED",
            "ChangeSetId": CS_ARN,
            "StatusReason": "Requires capabilities : [CAPABILITY_IAM]",
        },
        None,
    )
    stub.add_response("delete_change_set", {}, None)
    ctx = context_for(client)
    spec = StackSpec(
        name="pets-x",
        template_path=write(tmp_path, "q.yaml", QUEUE_TEMPLATE),
        parameters={"QueueName": "q"},
    )
    with stub, pytest.raises(OpsError, match=r"failed: Requires capabilities : \[CAPABILITY_IAM\]"):
        deploy(ctx, spec)


def test_access_denied_is_one_line(tmp_path):
    client, stub = stubbed()
    stub.add_client_error(
        "describe_stacks",
        service_error_code="AccessDenied",
        service_message="User: arn:aws:sts::123456789012:assumed-role/plan/gh is not authorized "
        "to perform: cloudformation:DescribeStacks",
        http_status_code=403,
    )
    ctx = context_for(client)
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    with stub:
        code = main(
            ["stack-deploy", "--stack-name", "pets-x", "--template-file", str(template)], ctx
        )
    err = ctx.err.getvalue()
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("stack-deploy: access denied on DescribeStacks: User: arn:aws:sts::")


def test_throttling_after_retries_is_one_line(tmp_path):
    """botocore's retries happen below Stubber, so the stubbed error carries the retry count
    botocore reports after the standard mode's 3 attempts (test_cli_errors.py lets real
    botocore retry against a throttling HTTP server)."""
    client, stub = stubbed()
    stub.add_client_error(
        "describe_stacks",
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
        response_meta={"RetryAttempts": 2},
    )
    ctx = context_for(client)
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    with stub:
        code = main(
            ["stack-deploy", "--stack-name", "pets-x", "--template-file", str(template)], ctx
        )
    err = ctx.err.getvalue()
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "AWS throttled DescribeStacks (Throttling)" in err
    assert "after 3 attempt(s)" in err


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_flags_reach_cloudformation_and_a_terminal_gets_a_redrawn_progress_line(tmp_path):
    """--capabilities, --tags and --role-arn are sent as given; on a TTY the progress line is
    redrawn in place (carriage return + clear line) instead of printed line by line."""
    client, stub = stubbed()
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id new does not exist")
    stub.add_response(
        "create_change_set",
        {"Id": CS_ARN, "StackId": STACK_ID},
        {
            "StackName": "new",
            "ChangeSetName": ANY,
            "ChangeSetType": "CREATE",
            "Parameters": [{"ParameterKey": "QueueName", "ParameterValue": "q"}],
            "Description": ANY,
            "TemplateBody": ANY,
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Tags": [{"Key": "project", "Value": "pets"}, {"Key": "stage", "Value": "dev"}],
            "RoleARN": "arn:aws:iam::123456789012:role/pets-cfn-exec-dev",
        },
    )
    add = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Add",
            "LogicalResourceId": "Queue",
            "ResourceType": "AWS::SQS::Queue",
        },
    }
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [add]}, None)
    review = event(0, "pets-x", "REVIEW_IN_PROGRESS", resource_type=STACK)
    stub.add_response("describe_stack_events", {"StackEvents": [review]}, None)
    stub.add_response("execute_change_set", {}, None)
    created = [
        event(1, "pets-x", "CREATE_IN_PROGRESS", resource_type=STACK),
        event(2, "Queue", "CREATE_IN_PROGRESS"),
        event(3, "Queue", "CREATE_COMPLETE"),
        event(4, "pets-x", "CREATE_COMPLETE", resource_type=STACK),
    ]
    stub.add_response("describe_stacks", stack("CREATE_COMPLETE", {"QueueUrl": "u"}), None)
    stub.add_response("describe_stack_events", {"StackEvents": [*reversed(created), review]}, None)
    ctx = context_for(client)
    ctx.out = Terminal()
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    argv = [
        "stack-deploy",
        "--stack-name",
        "new",
        "--template-file",
        str(template),
        "--parameter-overrides",
        "QueueName=q",
        "--capabilities",
        "CAPABILITY_IAM",
        "CAPABILITY_AUTO_EXPAND",
        "--tags",
        "project=pets",
        "stage=dev",
        "--role-arn",
        "arn:aws:iam::123456789012:role/pets-cfn-exec-dev",
    ]
    with stub:
        assert main(argv, ctx) == 0, ctx.err.getvalue()
        stub.assert_no_pending_responses()
    screen = ctx.out.getvalue()
    assert "\r\033[K  [new] CREATE_COMPLETE: 0 pending, 0 in progress, 1 complete" in screen
    assert "Outputs of new:" in screen


def test_the_old_terminal_state_seen_before_the_update_starts_is_not_the_end(tmp_path):
    """ExecuteChangeSet is asynchronous: the first DescribeStacks may still say UPDATE_COMPLETE
    from the previous deploy. Following must wait for the operation's own events."""
    client, stub = stubbed()
    stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), None)
    stub.add_response("create_change_set", {"Id": CS_ARN, "StackId": STACK_ID}, None)
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []}, None)
    stub.add_response("get_template", {"TemplateBody": '{"Resources": {}}'}, None)
    old = event(0, "pets-x", "UPDATE_COMPLETE", resource_type=STACK)
    stub.add_response("describe_stack_events", {"StackEvents": [old]}, None)
    stub.add_response("execute_change_set", {}, None)
    # Poll 1: not started yet, the old state and no new event.
    stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), None)
    stub.add_response("describe_stack_events", {"StackEvents": [old]}, None)
    # Poll 2: it ran and failed.
    new = [
        event(1, "pets-x", "UPDATE_IN_PROGRESS", resource_type=STACK),
        event(2, "Queue", "UPDATE_FAILED", "Access denied for sqs:SetQueueAttributes"),
        event(3, "pets-x", "UPDATE_ROLLBACK_COMPLETE", resource_type=STACK),
    ]
    stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), None)
    stub.add_response("describe_stack_events", {"StackEvents": [*reversed(new), old]}, None)
    ctx = context_for(client)
    spec = StackSpec(
        name="pets-x",
        template_path=write(tmp_path, "q.yaml", QUEUE_TEMPLATE),
        parameters={"QueueName": "q"},
    )
    with stub, pytest.raises(OpsError, match="root cause: Queue: Access denied"):
        deploy(ctx, spec)
    assert ctx.sleeps == [5]


def test_a_long_step_without_news_still_says_it_is_alive_each_minute():
    # A CI log is not a terminal: the progress line is printed on change, and again after a
    # minute without one (Aurora takes many), so a silent log never means a dead deploy.
    client, stub = stubbed()
    ctx = context_for(client)
    begun = event(1, "pets-x", "UPDATE_IN_PROGRESS", "User Initiated", STACK)
    working = event(2, "Queue", "UPDATE_IN_PROGRESS")
    for _ in range(14):  # 5 s a poll: 65 s with nothing new after the first
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
        stub.add_response(
            "describe_stack_events", {"StackEvents": [working, begun]}, {"StackName": STACK_ID}
        )
    done = [
        event(4, "pets-x", "UPDATE_COMPLETE", resource_type=STACK),
        event(3, "Queue", "UPDATE_COMPLETE"),
    ]
    stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [*done, working, begun]}, {"StackName": STACK_ID}
    )
    with stub:
        follow(ctx, Follower(ctx, client, STACK_ID, "pets-x", expected={"Queue"}), poll=5)
    lines = ctx.out.getvalue().splitlines()
    assert [line for line in lines if "still" in line] == [
        "  [pets-x] still UPDATE_IN_PROGRESS: 0 pending, 1 in progress, 0 complete (60 s so far)"
    ]
    assert lines[-1] == "  [pets-x] UPDATE_COMPLETE: 0 pending, 0 in progress, 1 complete"


def test_a_failed_instance_signal_names_where_the_setup_log_is():
    """The signal API carries no reason: the root cause points at the console output."""
    ctx = context_for(None)
    follower = Follower(ctx, None, STACK_ID, "pets-x")
    host = [
        event(1, "Host", "CREATE_IN_PROGRESS", resource_type="AWS::EC2::Instance"),
        event(2, "Host", "CREATE_IN_PROGRESS", "Resource creation Initiated", "AWS::EC2::Instance"),
        event(
            3,
            "Host",
            "CREATE_FAILED",
            "Received FAILURE signal with UniqueId i-0123456789abcdef0",
            "AWS::EC2::Instance",
        ),
    ]
    for entry in host[1:]:
        entry["PhysicalResourceId"] = "i-0123456789abcdef0"
    host[0]["PhysicalResourceId"] = ""
    follower.events = host
    with pytest.raises(OpsError) as raised:
        raise_failure(ctx, "pets-x", {"StackStatus": "ROLLBACK_COMPLETE"}, follower)
    assert str(raised.value) == (
        "pets-x ended in ROLLBACK_COMPLETE; root cause: Host: Received FAILURE signal with "
        "UniqueId i-0123456789abcdef0; its setup log is in the console output: "
        "aws ec2 get-console-output --instance-id i-0123456789abcdef0 --latest --output text"
    )


def test_other_failures_get_no_console_hint():
    ctx = context_for(None)
    follower = Follower(ctx, None, STACK_ID, "pets-x")
    follower.events = [event(1, "Queue", "CREATE_FAILED", ROOT_CAUSE)]
    with pytest.raises(OpsError) as raised:
        raise_failure(ctx, "pets-x", {"StackStatus": "ROLLBACK_COMPLETE"}, follower)
    assert "console" not in str(raised.value)
