"""``ops.ssm``: send a command and wait for every target, with our own deadline.

moto serves SendCommand and GetCommandInvocation where its behaviour is enough (it reports
every invocation Success at once). botocore Stubber serves GetCommandInvocation where a test
needs InvocationDoesNotExist, a status that never ends, or an error, which moto cannot produce.
"""

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ops.aws import ssm
from ops.errors import OpsError
from tests.support.aws import REGION, SplitClient, make_context
from tests.support.clock import FakeClock

HOSTS = ["i-00000000000000001", "i-00000000000000002"]


@pytest.fixture
def aws():
    with mock_aws():
        moto_ssm = boto3.client("ssm", region_name=REGION)
        stubbed = boto3.client("ssm", region_name=REGION)
        clock = FakeClock()
        ctx = make_context(
            {"ssm": SplitClient(moto_ssm, stubbed, {"get_command_invocation"})}, clock=clock
        )
        with Stubber(stubbed) as stub:
            yield ctx, stub, clock, moto_ssm
            stub.assert_no_pending_responses()


def test_moto_success_for_every_host_without_sleeping():
    """moto only: SendCommand and GetCommandInvocation, every host Success at the first look."""
    with mock_aws():
        clock = FakeClock()
        ctx = make_context({"ssm": boto3.client("ssm", region_name=REGION)}, clock=clock)
        result = ssm.send_and_wait(
            ctx, "AWS-RunShellScript", HOSTS, {"commands": ["true"]}, comment="t", timeout=60
        )
    assert result.ok
    assert sorted(result.invocations) == HOSTS
    assert all(i.status == "Success" for i in result.invocations.values())
    assert clock.sleeps == []
    assert result.requested_at is not None


def test_never_visible_ends_at_our_deadline_not_a_waiter_limit(aws):
    """moto: SendCommand. Stubber: GetCommandInvocation answering InvocationDoesNotExist until the
    deadline.
    """
    ctx, stub, clock, _ = aws
    for _ in range(int(900 / 5) + 1):
        stub.add_client_error(
            "get_command_invocation",
            service_error_code="InvocationDoesNotExist",
            http_status_code=400,
            expected_params={"CommandId": ANY, "InstanceId": HOSTS[0]},
        )
    result = ssm.send_and_wait(
        ctx, "AWS-RunShellScript", HOSTS[:1], {"commands": ["true"]}, comment="t", timeout=900
    )
    (inv,) = result.invocations.values()
    assert inv.status == ssm.WAIT_TIMED_OUT
    assert "still NotVisible after 900 s" in inv.details
    assert sum(clock.sleeps) == 900  # far past the ~100 s of botocore's command_executed waiter


def test_other_errors_fail_with_one_line(aws):
    """moto: SendCommand. Stubber: GetCommandInvocation AccessDeniedException."""
    ctx, stub, _, _ = aws
    stub.add_client_error(
        "get_command_invocation",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=400,
    )
    with pytest.raises(OpsError, match="GetCommandInvocation failed: AccessDeniedException"):
        ssm.send_and_wait(
            ctx, "AWS-RunShellScript", HOSTS[:1], {"commands": ["true"]}, comment="t", timeout=60
        )


def test_send_command_refused_is_one_line():
    """Stubber: SendCommand refused (moto accepts any instance id)."""
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)
        ctx = make_context({"ssm": client})
        with Stubber(client) as stub:
            stub.add_client_error(
                "send_command", service_error_code="InvalidInstanceId", http_status_code=400
            )
            with pytest.raises(OpsError, match="SendCommand AWS-RunShellScript failed"):
                ssm.send_and_wait(
                    ctx, "AWS-RunShellScript", HOSTS, {"commands": ["true"]}, comment="t", timeout=1
                )


def test_a_long_command_still_says_it_is_alive_each_minute(aws):
    """moto: SendCommand. Stubber: GetCommandInvocation InProgress for 65 s, then Success."""
    ctx, stub, _, _ = aws
    for status in ["InProgress"] * 14 + ["Success"]:
        stub.add_response(
            "get_command_invocation",
            {"Status": status, "StatusDetails": status, "ResponseCode": 0},
            {"CommandId": ANY, "InstanceId": HOSTS[0]},
        )
    result = ssm.send_and_wait(
        ctx, "AWS-RunShellScript", HOSTS[:1], {"commands": ["true"]}, comment="t", timeout=900
    )
    assert result.ok
    lines = ctx.out.getvalue().splitlines()
    assert [line for line in lines if "still" in line] == [
        f"ssm: still waiting for {HOSTS[0]} (InProgress) (60 s so far)"
    ]
