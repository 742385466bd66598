"""``python -m ops patch``: host discovery, the Online check, waiting for every host, the report.

Every test runs the real CLI entry point (``ops.cli.main``) with a Context built here.
moto serves CloudFormation (stack outputs), EC2 (the ``Patch Group`` tag) and SSM SendCommand.
botocore Stubber serves what moto lacks or cannot shape: DescribeInstanceInformation and
DescribeInstancePatchStates (not implemented in moto) and GetCommandInvocation for the
``PatchLinux`` step (moto records every invocation as one ``aws:runShellScript`` plugin that is
Success at once, so it can neither answer for the named step nor be InProgress, Failed or
missing). Each Stubber queue is checked to be used up, so an unexpected or missing AWS call fails.
"""

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ops.cli import main
from tests.support.aws import REGION, FakeClock, SplitClient, create_stack, make_context

HOST = "i-0123456789abcdef0"
GROUP = "pets-dev"
STUBBED = {
    "describe_instance_information",
    "describe_instance_patch_states",
    "get_command_invocation",
}


def table(out):
    """The header line and the rows of the compliance table ``ops patch`` printed."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Instance "))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("i-"):
            break
        rows.append(line)
    return lines[start], rows


class PatchWorld:
    """moto for the stack, the tagged instances and SendCommand; a Stubber for the rest."""

    def __init__(self, tagged=0, env=None):
        create_stack("pets-dev-infra", {"HostInstanceId": HOST, "PatchGroup": GROUP})
        ec2 = boto3.client("ec2", region_name=REGION)
        self.tagged = []
        if tagged:
            reservation = ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=tagged,
                MaxCount=tagged,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": "Patch Group", "Value": GROUP}]}
                ],
            )
            self.tagged = sorted(i["InstanceId"] for i in reservation["Instances"])
        self.hosts = [HOST, *self.tagged]
        self.moto_ssm = boto3.client("ssm", region_name=REGION)
        stubbed = boto3.client("ssm", region_name=REGION)
        self.stub = Stubber(stubbed)
        self.clock = FakeClock()
        self.ssm = SplitClient(self.moto_ssm, stubbed, STUBBED)
        self.ctx = make_context(
            {
                "cloudformation": boto3.client("cloudformation", region_name=REGION),
                "ec2": ec2,
                "ssm": self.ssm,
            },
            clock=self.clock,
            env=env,
        )

    def online(self, statuses=None):
        statuses = statuses or dict.fromkeys(self.hosts, "Online")
        self.stub.add_response(
            "describe_instance_information",
            {
                "InstanceInformationList": [
                    {"InstanceId": i, "PingStatus": s} for i, s in statuses.items() if s
                ]
            },
            {"Filters": [{"Key": "InstanceIds", "Values": self.hosts}]},
        )

    def invocation(self, host, status, code=0, stdout="", stderr=""):
        self.stub.add_response(
            "get_command_invocation",
            {
                "CommandId": "00000000-0000-0000-0000-000000000000",
                "InstanceId": host,
                "PluginName": "PatchLinux",
                "Status": status,
                "StatusDetails": status,
                "ResponseCode": code if status not in ("Pending", "InProgress") else -1,
                "StandardOutputContent": stdout,
                "StandardErrorContent": stderr,
            },
            {"CommandId": ANY, "InstanceId": host, "PluginName": "PatchLinux"},
        )

    def not_visible(self, host):
        self.stub.add_client_error(
            "get_command_invocation",
            service_error_code="InvocationDoesNotExist",
            http_status_code=400,
            expected_params={"CommandId": ANY, "InstanceId": host, "PluginName": "PatchLinux"},
        )

    def states(self, **by_host):
        ended = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        states = []
        for host in self.hosts:
            counts = {
                "InstalledCount": 40,
                "InstalledPendingRebootCount": 0,
                "MissingCount": 0,
                "FailedCount": 0,
                "Operation": "Install",
                **by_host.get(host, {}),
            }
            states.append(
                {
                    "InstanceId": host,
                    "PatchGroup": GROUP,
                    "BaselineId": "pb-0123456789abcdef0",
                    "OperationStartTime": ended - datetime.timedelta(minutes=3),
                    "OperationEndTime": ended,
                    **counts,
                }
            )
        self.stub.add_response(
            "describe_instance_patch_states",
            {"InstancePatchStates": states},
            {"InstanceIds": self.hosts},
        )

    def run(self, *flags):
        with self.stub:
            code = main(["patch", "--stage", "dev", *flags], self.ctx)
        self.stub.assert_no_pending_responses()
        return code

    @property
    def out(self):
        return self.ctx.out.getvalue()

    @property
    def err(self):
        return self.ctx.err.getvalue()

    def sent(self):
        return self.moto_ssm.list_commands()["Commands"]


@pytest.fixture
def world_factory():
    with mock_aws():
        yield PatchWorld


def test_patch_install_all_compliant_reports_table_and_summary(world_factory, tmp_path):
    """All compliant after Install. moto: stack, SendCommand. Stubber: DescribeInstanceInformation
    (twice: before, and Online again after), GetCommandInvocation (PatchLinux step),
    DescribeInstancePatchStates.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(env={"GITHUB_STEP_SUMMARY": str(summary)})
    world.online()
    world.invocation(HOST, "Success", stdout="Installed 3 packages")
    world.online()  # after Install with RebootIfNeeded: Online again?
    world.states()

    assert world.run("--operation", "Install", "--max-concurrency", "50%") == 0

    (command,) = world.sent()
    assert command["DocumentName"] == "AWS-RunPatchBaseline"
    assert command["Parameters"] == {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}
    assert command["InstanceIds"] == [HOST]
    assert command["MaxConcurrency"] == "50%"
    assert command["MaxErrors"] == "0"
    header, (row,) = table(world.out)
    assert header.split()[:3] == ["Instance", "Operation", "Installed"]
    assert row.split()[:6] == [HOST, "Install", "40", "0", "0", "0"]
    assert "finished on 1 host(s) of dev" in world.out
    assert world.err == ""
    text = summary.read_text()
    assert "## Patch Install on dev: passed" in text
    assert f"| {HOST} | Install | 40 | 0 | 0 | 0 |" in text


def test_patch_install_one_failed_patch_exits_1(world_factory):
    """One failed patch after Install fails the run. moto: stack, SendCommand. Stubber:
    DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.invocation(HOST, "Success")
    world.online()
    world.states(**{HOST: {"FailedCount": 1, "MissingCount": 1}})

    assert world.run("--operation", "Install") == 1

    assert f"{HOST}: still 1 missing and 1 failed patch(es)" in world.err
    assert world.err.strip().splitlines()[-1].startswith("patch: 1 problem(s) on dev:")


def test_patch_scan_with_missing_patches_is_reported_not_failed(world_factory):
    """Missing patches after a Scan are a warning. moto: stack, SendCommand. Stubber:
    DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.invocation(HOST, "Success")
    world.states(**{HOST: {"MissingCount": 7, "Operation": "Scan"}})  # no Online re-check: Scan

    assert world.run() == 0

    assert world.sent()[0]["Parameters"]["Operation"] == ["Scan"]
    assert f"{HOST}: 7 missing patch(es); run --operation Install" in world.err


def test_patch_instance_offline_fails_before_sending(world_factory, tmp_path):
    """Instance offline (and one not SSM-managed): nothing is sent. moto: stack, EC2 tag,
    SendCommand history. Stubber: DescribeInstanceInformation.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(tagged=1, env={"GITHUB_STEP_SUMMARY": str(summary)})
    world.online({HOST: "ConnectionLost", world.tagged[0]: None})

    assert world.run("--operation", "Install") == 1

    assert world.sent() == []
    assert f"{HOST}: SSM agent is ConnectionLost" in world.err
    assert f"{world.tagged[0]}: not SSM-managed" in world.err
    assert len(world.err.strip().splitlines()) == 1  # one line, no traceback
    assert "## Patch Install on dev: failed" in summary.read_text()
    assert "SSM agent is ConnectionLost" in summary.read_text()


def test_patch_invocation_not_visible_yet_is_polled_again(world_factory):
    """Invocation not visible yet: InvocationDoesNotExist is polled again. moto: stack,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation (moto cannot answer
    InvocationDoesNotExist then InProgress), DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.not_visible(HOST)
    world.not_visible(HOST)
    world.invocation(HOST, "InProgress")
    world.invocation(HOST, "Success")
    world.states(**{HOST: {"Operation": "Scan"}})

    assert world.run() == 0

    assert world.clock.sleeps == [5.0, 5.0, 5.0]
    assert "patch: i-0123456789abcdef0: InProgress" in world.out


def test_patch_timeout_is_ours_not_a_100_second_waiter(world_factory):
    """Timeout: our own deadline, well past 100 s, on a fake clock. moto: stack, SendCommand.
    Stubber: DescribeInstanceInformation, GetCommandInvocation (moto never reports InProgress),
    DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    # --timeout 300 with a 5 s poll: the first look plus one per sleep, until 300 s have passed.
    for _ in range(61):
        world.invocation(HOST, "InProgress")
    world.states(**{HOST: {"Operation": "Scan"}})  # shown, not judged: the run did not finish

    assert world.run("--timeout", "300") == 1

    assert sum(world.clock.sleeps) == 300
    assert f"{HOST}: AWS-RunPatchBaseline WaitTimedOut (still InProgress after 300 s" in world.err


def test_patch_no_reboot_leaves_reboot_pending_as_warning(world_factory):
    """Reboot pending after Install --no-reboot: a warning, and no Online re-check. moto: stack,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation,
    DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.invocation(HOST, "Success")
    # NoReboot: no Online re-check queued; the Stubber would fail on an unexpected call.
    world.states(**{HOST: {"InstalledPendingRebootCount": 2}})

    assert world.run("--operation", "Install", "--no-reboot") == 0

    assert world.sent()[0]["Parameters"]["RebootOption"] == ["NoReboot"]
    assert f"{HOST}: 2 patch(es) installed pending reboot" in world.err
    _, (row,) = table(world.out)
    assert row.split()[:4] == [HOST, "Install", "40", "2"]


def test_patch_host_not_online_again_after_reboot_fails(world_factory):
    """Not Online again within 10 minutes after a reboot fails the run. moto: stack, SendCommand.
    Stubber: DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.invocation(HOST, "Success")
    for _ in range(61):  # 600 s of polls every 10 s, plus the first
        world.online({HOST: "ConnectionLost"})
    world.states()

    assert world.run("--operation", "Install") == 1

    assert "not Online again 600 s after patching" in world.err


def test_patch_several_hosts_one_failing(world_factory, tmp_path):
    """Several hosts (stack output + Patch Group tag), one failing. moto: stack, EC2 tags,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation (moto cannot fail
    one host), DescribeInstancePatchStates.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(tagged=2, env={"GITHUB_STEP_SUMMARY": str(summary)})
    bad = world.tagged[1]
    world.online()
    world.invocation(HOST, "InProgress")
    world.invocation(world.tagged[0], "Success")
    world.invocation(bad, "Failed", code=1, stderr="yum lock held\nError: dnf failed")
    world.invocation(HOST, "Success")  # second round: only the unfinished host is asked again
    world.online()
    world.states(**{bad: {"FailedCount": 3}})

    assert world.run("--operation", "Install", "--max-errors", "1") == 1

    (command,) = world.sent()
    assert sorted(command["InstanceIds"]) == sorted(world.hosts)
    assert f"{bad}: AWS-RunPatchBaseline Failed (Failed, exit code 1)" in world.err
    assert "  Error: dnf failed" in world.err  # the failing host's output is shown
    assert "1 problem(s) on dev" in world.err  # the healthy hosts are not counted
    _, rows = table(world.out)
    assert sorted(row.split()[0] for row in rows) == sorted(world.hosts)  # one row per host
    assert "## Patch Install on dev: failed" in summary.read_text()


def test_patch_missing_stack_is_one_line(world_factory):
    """No infra stack: one line. moto: CloudFormation only; no SSM call is made."""
    with mock_aws():
        ctx = make_context(
            {"cloudformation": boto3.client("cloudformation", region_name=REGION)},
            clock=FakeClock(),
        )
        assert main(["patch", "--stage", "prod"], ctx) == 1
    assert ctx.err.getvalue() == "patch: stack pets-prod-infra does not exist: deploy it first\n"
