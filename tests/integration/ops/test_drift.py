"""``python -m ops drift``: detection, waiting, per-resource report, exit codes.

moto (5.2.5, pinned in requirements-dev.txt) implements none of the drift APIs
(DetectStackDrift, DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts), so every
test here drives a real botocore CloudFormation client through botocore's ``Stubber``. The
Stubber checks each call's parameters against the service model and against what the test
expects, so a wrong stack name, a missing filter or a skipped page fails the test.
"""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from ops.cli import main
from ops.commands.drift import DRIFTED, StackDrift, markdown_report
from tests.support.aws import make_context
from tests.support.clock import FakeClock

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
INFRA, API = "pets-dev-infra", "pets-dev-api"


@pytest.fixture
def cfn():
    client = boto3.session.Session(region_name="us-east-1").client("cloudformation")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def make_ctx(client, clock, summary=None):
    env = {"GITHUB_STEP_SUMMARY": str(summary)} if summary else {}
    return make_context({"cloudformation": client}, env=env, clock=clock)


def started(stubber, stack, detection_id):
    stubber.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": detection_id}, {"StackName": stack}
    )


def missing(stubber, stack):
    stubber.add_client_error(
        "detect_stack_drift",
        service_error_code="ValidationError",
        service_message=f"Stack with id {stack} does not exist",
        http_status_code=400,
        expected_params={"StackName": stack},
    )


def status(stubber, stack, detection_id, detection, drift=None, reason=None, count=None):
    response = {
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/1",
        "StackDriftDetectionId": detection_id,
        "DetectionStatus": detection,
        "Timestamp": NOW,
    }
    if drift:
        response["StackDriftStatus"] = drift
    if reason:
        response["DetectionStatusReason"] = reason
    if count is not None:
        response["DriftedStackResourceCount"] = count
    stubber.add_response(
        "describe_stack_drift_detection_status",
        response,
        {"StackDriftDetectionId": detection_id},
    )


def resource(logical_id, rtype, drift, *diffs):
    return {
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{INFRA}/1",
        "LogicalResourceId": logical_id,
        "ResourceType": rtype,
        "StackResourceDriftStatus": drift,
        "Timestamp": NOW,
        "PropertyDifferences": [
            {"PropertyPath": p, "ExpectedValue": e, "ActualValue": a, "DifferenceType": t}
            for p, e, a, t in diffs
        ],
    }


def drifts_page(stubber, stack, drifts, token=None, next_token=None):
    expected = {"StackName": stack, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
    if token:
        expected["NextToken"] = token
    response = {"StackResourceDrifts": drifts}
    if next_token:
        response["NextToken"] = next_token
    stubber.add_response("describe_stack_resource_drifts", response, expected)


def test_in_sync_stage_waits_for_detection_and_exits_0(cfn, tmp_path):
    client, stubber = cfn
    clock = FakeClock()
    summary = tmp_path / "summary.md"
    started(stubber, INFRA, "d-infra")
    started(stubber, API, "d-api")
    status(stubber, INFRA, "d-infra", "DETECTION_IN_PROGRESS")
    status(stubber, INFRA, "d-infra", "DETECTION_IN_PROGRESS")
    status(stubber, INFRA, "d-infra", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    status(stubber, API, "d-api", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    ctx = make_ctx(client, clock, summary)

    assert main(["drift", "--stage", "dev", "--poll", "7"], ctx) == 0

    assert clock.sleeps == [7.0, 7.0]  # polled through ctx.sleep, at the interval asked for
    out = ctx.out.getvalue()
    assert f"drift: {INFRA}: IN_SYNC" in out
    assert f"drift: {API}: IN_SYNC" in out
    assert out.rstrip().endswith("drift: dev: no drift")
    text = summary.read_text()
    assert text.startswith("## Drift: dev\n")
    assert f"| `{INFRA}` | in sync |" in text
    assert "###" not in text  # no resource tables when nothing drifted


def test_drifted_resources_are_listed_from_every_page_and_exit_1(cfn, tmp_path):
    client, stubber = cfn
    clock = FakeClock()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    started(stubber, INFRA, "d-infra")
    started(stubber, API, "d-api")
    status(stubber, INFRA, "d-infra", "DETECTION_COMPLETE", "DRIFTED", count=2)
    host_sg = resource(
        "HostSecurityGroup",
        "AWS::EC2::SecurityGroup",
        "MODIFIED",
        ("/SecurityGroupIngress/0/CidrIp", "null", "0.0.0.0/0", "ADD"),
        ("/Tags/1/Value", "a|b", "changed `by` hand", "NOT_EQUAL"),
    )
    bucket = resource("LogsBucket", "AWS::S3::Bucket", "DELETED")
    drifts_page(stubber, INFRA, [host_sg], next_token="page-2")
    drifts_page(stubber, INFRA, [bucket], token="page-2")
    status(stubber, API, "d-api", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    ctx = make_ctx(client, clock, summary)

    assert main(["drift", "--stage", "dev"], ctx) == 1

    out = ctx.out.getvalue()
    assert f"drift: {INFRA}: DRIFTED, 2 resource(s)" in out
    assert "  HostSecurityGroup (AWS::EC2::SecurityGroup): MODIFIED" in out
    assert "/SecurityGroupIngress/0/CidrIp: ADD, expected 'null', actual '0.0.0.0/0'" in out
    assert "  LogsBucket (AWS::S3::Bucket): DELETED" in out
    assert f"drift: dev: {INFRA} (drifted, 2 resource(s))" in out
    text = summary.read_text()
    assert text.startswith("earlier step\n## Drift: dev")  # appended, never overwritten
    assert f"| `{INFRA}` | **DRIFTED** | 2 drifted resource(s) |" in text
    assert f"### {INFRA}" in text
    row = next(line for line in text.splitlines() if "HostSecurityGroup" in line)
    assert row.startswith("| `HostSecurityGroup` | `AWS::EC2::SecurityGroup` | MODIFIED |")
    assert "`/SecurityGroupIngress/0/CidrIp` ADD: expected `null`, actual `0.0.0.0/0`" in row
    # A pipe inside a value is escaped and a backtick cannot end the code span early, so the
    # row keeps exactly four cells.
    assert "`a\\|b`" in row and "`changed 'by' hand`" in row
    assert row.replace("\\|", "").count("|") == 5
    assert "| `LogsBucket` | `AWS::S3::Bucket` | DELETED | - |" in text


def test_missing_stack_gets_a_clear_line_and_is_not_drift(cfn, tmp_path):
    client, stubber = cfn
    summary = tmp_path / "summary.md"
    started(stubber, INFRA, "d-infra")
    missing(stubber, API)
    status(stubber, INFRA, "d-infra", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    ctx = make_ctx(client, FakeClock(), summary)

    assert main(["drift", "--stage", "dev"], ctx) == 0

    assert f"drift: {API}: stack does not exist; nothing to check" in ctx.out.getvalue()
    assert f"| `{API}` | not deployed (stack does not exist) |" in summary.read_text()


def test_no_stack_deployed_at_all_exits_0(cfn):
    client, stubber = cfn
    missing(stubber, "pets-prod-infra")
    missing(stubber, "pets-prod-api")
    ctx = make_ctx(client, FakeClock())

    assert main(["drift", "--stage", "prod"], ctx) == 0
    assert ctx.out.getvalue().count("stack does not exist") == 2


def test_detection_that_never_finishes_times_out_and_exits_1(cfn):
    client, stubber = cfn
    clock = FakeClock()
    started(stubber, INFRA, "d-infra")
    missing(stubber, API)
    for _ in range(4):  # polls at t=0, 5, 10, then t=15 is past the 12 s deadline
        status(stubber, INFRA, "d-infra", "DETECTION_IN_PROGRESS")
    ctx = make_ctx(client, clock)

    assert main(["drift", "--stage", "dev", "--timeout", "12"], ctx) == 1

    assert clock.sleeps == [5.0, 5.0, 5.0]
    out = ctx.out.getvalue()
    assert f"drift: {INFRA}: TIMED-OUT: detection still in progress after 12 s (d-infra)" in out


def test_failed_detection_exits_1_with_its_reason(cfn):
    client, stubber = cfn
    started(stubber, INFRA, "d-infra")
    started(stubber, API, "d-api")
    status(stubber, INFRA, "d-infra", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    status(
        stubber,
        API,
        "d-api",
        "DETECTION_FAILED",
        reason="Failed to detect drift on resource [Api]: access denied",
    )
    ctx = make_ctx(client, FakeClock())

    assert main(["drift", "--stage", "dev"], ctx) == 1
    assert (
        f"drift: {API}: FAILED: detection failed: Failed to detect drift on resource [Api]"
        in ctx.out.getvalue()
    )


def test_partial_detection_still_reports_what_drifted(cfn):
    """DETECTION_FAILED with StackDriftStatus DRIFTED: the checked resources' results count."""
    client, stubber = cfn
    started(stubber, INFRA, "d-infra")
    missing(stubber, API)
    status(
        stubber,
        INFRA,
        "d-infra",
        "DETECTION_FAILED",
        "DRIFTED",
        reason="Failed to detect drift on resources [Host]",
        count=1,
    )
    drifts_page(stubber, INFRA, [resource("Db", "AWS::RDS::DBCluster", "MODIFIED")])
    ctx = make_ctx(client, FakeClock())

    assert main(["drift", "--stage", "dev"], ctx) == 1
    out = ctx.out.getvalue()
    assert "  Db (AWS::RDS::DBCluster): MODIFIED" in out
    assert "note: detection incomplete: Failed to detect drift on resources [Host]" in out


def test_stack_busy_updating_is_reported_without_stopping_the_other_stack(cfn):
    client, stubber = cfn
    stubber.add_client_error(
        "detect_stack_drift",
        service_error_code="ValidationError",
        service_message="Stack pets-dev-infra is in UPDATE_IN_PROGRESS state",
        http_status_code=400,
        expected_params={"StackName": INFRA},
    )
    started(stubber, API, "d-api")
    status(stubber, API, "d-api", "DETECTION_COMPLETE", "IN_SYNC", count=0)
    ctx = make_ctx(client, FakeClock())

    assert main(["drift", "--stage", "dev"], ctx) == 1
    out = ctx.out.getvalue()
    assert f"drift: {INFRA}: FAILED: Stack pets-dev-infra is in UPDATE_IN_PROGRESS state" in out
    assert f"drift: {API}: IN_SYNC" in out


def test_access_denied_is_one_line_on_stderr(cfn):
    client, stubber = cfn
    stubber.add_client_error(
        "detect_stack_drift",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: cloudformation:DetectStackDrift",
        http_status_code=403,
    )
    ctx = make_ctx(client, FakeClock())

    assert main(["drift", "--stage", "dev"], ctx) == 1
    err = ctx.err.getvalue()
    assert err.count("\n") == 1
    assert err.startswith(f"drift: DetectStackDrift on {INFRA}: AccessDenied: User is not")


def test_unknown_stage_is_refused_before_any_aws_call(cfn):
    client, _ = cfn  # the Stubber has no responses: any call would fail the test
    ctx = make_ctx(client, FakeClock())
    with pytest.raises(SystemExit) as exc:
        main(["drift", "--stage", "staging"], ctx)
    assert exc.value.code == 2


def test_markdown_report_long_values_are_cut_to_one_line():

    long_value = "x" * 500 + "\nsecond line"
    result = StackDrift(
        INFRA,
        DRIFTED,
        resources=[
            resource(
                "Fn", "AWS::Lambda::Function", "MODIFIED", ("/Code", long_value, "y", "NOT_EQUAL")
            )
        ],
    )
    text = markdown_report("dev", [result])
    row = next(line for line in text.splitlines() if line.startswith("| `Fn`"))
    assert "\n" not in row and "second line" not in row
    assert "x" * 159 + "…`" in row
