"""``python -m ops patch``: host discovery, the Online check, waiting for every host through a
reboot, the rescan, the complete output in S3, each host's release, and the report.

Every test runs the real CLI entry point (``ops.cli.main``) with a Context built here.
moto serves CloudFormation (stack outputs), EC2 (the ``Patch Group`` tag, a replaced host) and
SSM SendCommand (recording every command: document, parameters, S3 output location). botocore
Stubber serves what moto lacks or cannot shape: DescribeInstanceInformation and
DescribeInstancePatchStates (not implemented in moto) and GetCommandInvocation for the
``PatchLinux`` and ``release`` steps (moto records every invocation as one
``aws:runShellScript`` plugin that is Success at once, with no output and no S3 URL, so it can
neither answer for a named step nor be InProgress, Failed or rebooting). Each Stubber queue is
checked to be used up, so an unexpected or missing AWS call fails.
"""

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ops.cli import main
from tests.support.aws import (
    REGION,
    Refusing,
    SplitClient,
    create_stack,
    make_context,
    update_stack_outputs,
)
from tests.support.clock import FakeClock

HOST = "i-0123456789abcdef0"
GROUP = "pets-dev"
BUCKET = "pets-artifacts-dev-123456789012-us-east-1"
RELEASE = "2023.9.20251117"
DOCUMENT = "pets-dev-host-release"
BOOTED = "2026-11-27 23:00:00"
REBOOTED = "2026-11-28 04:07:12"
STUBBED = {
    "describe_instance_information",
    "describe_instance_patch_states",
    "get_command_invocation",
}
OUTPUTS = {
    "HostInstanceId": HOST,
    "PatchGroup": GROUP,
    "PatchOutputPrefix": "patch-output",
    "HostReleaseDocument": DOCUMENT,
    "HostOsRelease": RELEASE,
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


def stdout_url(host, step="PatchLinux"):
    return (
        f"https://s3.{REGION}.amazonaws.com/{BUCKET}/patch-output/ops/"
        f"00000000-0000-0000-0000-000000000000/{host}/awsrunShellScript/{step}/stdout"
    )


class PatchWorld:
    """moto for the stacks, the tagged instances and SendCommand; a Stubber for the rest."""

    def __init__(self, tagged=0, env=None, outputs=None, refuse_release=False):
        create_stack("pets-dev-infra", OUTPUTS if outputs is None else outputs)
        create_stack("pets-bootstrap-dev", {"ArtifactsBucket": BUCKET})
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.tagged = self.launch(tagged) if tagged else []
        self.hosts = [HOST, *self.tagged]
        self.moto_ssm = boto3.client("ssm", region_name=REGION)
        stubbed = boto3.client("ssm", region_name=REGION)
        self.stub = Stubber(stubbed)
        self.clock = FakeClock()
        self.ssm = SplitClient(self.moto_ssm, stubbed, STUBBED)
        if refuse_release:  # credentials that may send AWS-RunPatchBaseline and nothing else
            self.ssm = Refusing(
                self.ssm, "send_command", lambda **p: p["DocumentName"] != "AWS-RunPatchBaseline"
            )
        self.ctx = make_context(
            {
                "cloudformation": boto3.client("cloudformation", region_name=REGION),
                "ec2": self.ec2,
                "ssm": self.ssm,
            },
            clock=self.clock,
            env=env,
        )

    def launch(self, count):
        reservation = self.ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=count,
            MaxCount=count,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Patch Group", "Value": GROUP}]}
            ],
        )
        return sorted(i["InstanceId"] for i in reservation["Instances"])

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

    def invocation(self, host, status, code=0, stdout="", stderr="", step="PatchLinux"):
        finished = status not in ("Pending", "InProgress")
        answer = {
            "CommandId": "00000000-0000-0000-0000-000000000000",
            "InstanceId": host,
            "PluginName": step,
            "Status": status,
            "StatusDetails": status,
            "ResponseCode": code if finished else -1,
            "StandardOutputContent": stdout,
            "StandardErrorContent": stderr,
        }
        if finished:
            answer["StandardOutputUrl"] = stdout_url(host, step)
            answer["StandardErrorUrl"] = stdout_url(host, step).replace("/stdout", "/stderr")
        self.stub.add_response(
            "get_command_invocation",
            answer,
            {"CommandId": ANY, "InstanceId": host, "PluginName": step},
        )

    def release(self, host, boot=BOOTED, release=RELEASE, releasever=RELEASE, status="Success"):
        text = f"release={release}\nreleasever={releasever}\nboot={boot}\n"
        self.invocation(host, status, stdout=text if status == "Success" else "", step="release")

    def releases(self, boot=BOOTED, **kwargs):
        for host in self.hosts:
            self.release(host, boot=boot, **kwargs)

    def install_then_rescan(self):
        """An Install on the one host: online, release, Install, online again, Scan, release."""
        self.online()
        self.releases()
        self.invocation(HOST, "Success")
        self.online()
        self.invocation(HOST, "Success")
        self.releases()

    def not_visible(self, host):
        self.stub.add_client_error(
            "get_command_invocation",
            service_error_code="InvocationDoesNotExist",
            http_status_code=400,
            expected_params={"CommandId": ANY, "InstanceId": host, "PluginName": "PatchLinux"},
        )

    def states(self, hosts=None, **by_host):
        ended = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        hosts = hosts or self.hosts
        states = []
        for host in hosts:
            counts = {
                "InstalledCount": 40,
                "InstalledPendingRebootCount": 0,
                "MissingCount": 0,
                "FailedCount": 0,
                "Operation": "Scan",
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
            {"InstanceIds": hosts},
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

    def sent(self, document=None):
        """The commands sent, oldest first (as moto lists them)."""
        commands = self.moto_ssm.list_commands()["Commands"]
        return [c for c in commands if document is None or c["DocumentName"] == document]


@pytest.fixture
def world_factory():
    with mock_aws():
        yield PatchWorld


def test_patch_install_reboots_rescans_and_reports_table_release_and_output(
    world_factory, tmp_path
):
    """Install with a reboot. moto: stacks, SendCommand (release, Install, Scan, release).
    Stubber: DescribeInstanceInformation (before, and Online again after), GetCommandInvocation
    (release and PatchLinux steps), DescribeInstancePatchStates.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(env={"GITHUB_STEP_SUMMARY": str(summary)})
    world.online()
    world.releases(boot=BOOTED)
    world.invocation(HOST, "InProgress")  # installing, then rebooting: still InProgress
    world.invocation(HOST, "Success", stdout="Installed 3 packages")
    world.online()  # Online again after the reboot
    world.invocation(HOST, "Success")  # the Scan after the reboot
    world.releases(boot=REBOOTED)
    world.states()

    assert world.run("--operation", "Install", "--max-concurrency", "50%") == 0

    release, install, rescan, release_again = world.sent()
    assert release["DocumentName"] == release_again["DocumentName"] == DOCUMENT
    assert release["Parameters"] == {}
    assert install["DocumentName"] == rescan["DocumentName"] == "AWS-RunPatchBaseline"
    assert install["Parameters"] == {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}
    assert rescan["Parameters"]["Operation"] == ["Scan"]
    assert install["InstanceIds"] == [HOST]
    assert install["MaxConcurrency"] == "50%"
    assert install["MaxErrors"] == "0"
    # Every command keeps its complete output in the stage's own artifacts bucket.
    for command in world.sent():
        assert command["OutputS3BucketName"] == BUCKET
        assert command["OutputS3KeyPrefix"] == "patch-output/ops"
    header, (row,) = table(world.out)
    assert header.split()[:3] == ["Instance", "Operation", "Installed"]
    assert row.split()[:9] == [HOST, "Scan", "40", "0", "0", "0", RELEASE, RELEASE, "yes"]
    assert (
        f"patch: complete output of command {install['CommandId']}: "
        f"s3://{BUCKET}/patch-output/ops/{install['CommandId']}/" in world.out
    )
    assert "finished on 1 host(s) of dev" in world.out
    assert world.err == ""
    text = summary.read_text()
    assert "## Patch Install on dev: passed" in text
    assert f"| {HOST} | Scan | 40 | 0 | 0 | 0 | {RELEASE} | {RELEASE} | yes |" in text
    assert f"[stdout]({stdout_url(HOST)})" in text


def test_patch_install_one_failed_patch_exits_1(world_factory):
    """One failed patch after Install fails the run. moto: stacks, SendCommand. Stubber:
    DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.install_then_rescan()
    world.states(**{HOST: {"FailedCount": 1, "MissingCount": 1}})

    assert world.run("--operation", "Install") == 1

    assert f"{HOST}: still 1 missing and 1 failed patch(es)" in world.err
    assert world.err.strip().splitlines()[-1].startswith("patch: 1 problem(s) on dev:")


def test_patch_install_still_pending_reboot_after_the_reboot_fails(world_factory, tmp_path):
    """RebootIfNeeded reboots for pending patches too: any left after the rescan is a failure,
    named as such. moto: stacks, SendCommand. Stubber: as above."""
    summary = tmp_path / "summary.md"
    world = world_factory(env={"GITHUB_STEP_SUMMARY": str(summary)})
    world.online()
    world.releases()
    world.invocation(HOST, "Success")
    world.online()
    world.invocation(HOST, "Success")
    world.releases(boot=BOOTED)  # same boot time: it did not reboot
    world.states(**{HOST: {"InstalledPendingRebootCount": 2}})

    assert world.run("--operation", "Install") == 1

    assert f"{HOST}: 2 patch(es) still installed pending reboot after the reboot" in world.err
    assert f"patch: installed, pending reboot: {HOST} (2)" in world.out
    _, (row,) = table(world.out)
    assert row.split()[3] == "2" and row.split()[8] == "no"  # pending reboot; not rebooted
    text = summary.read_text()
    assert "**Installed, pending reboot**" in text
    assert f"- `{HOST}`: 2 patch(es)" in text


def test_patch_scan_with_missing_patches_is_reported_not_failed(world_factory):
    """Missing patches after a Scan are a warning. moto: stacks, SendCommand. Stubber:
    DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.releases()
    world.invocation(HOST, "Success")
    world.releases()  # no Online re-check and no rescan: a Scan does not reboot
    world.states(**{HOST: {"MissingCount": 7}})

    assert world.run() == 0

    (scan,) = world.sent("AWS-RunPatchBaseline")
    assert scan["Parameters"]["Operation"] == ["Scan"]
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
    """Invocation not visible yet: InvocationDoesNotExist is polled again. moto: stacks,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation (moto cannot answer
    InvocationDoesNotExist then InProgress), DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.releases()
    world.not_visible(HOST)
    world.not_visible(HOST)
    world.invocation(HOST, "InProgress")
    world.invocation(HOST, "Success")
    world.releases()
    world.states()

    assert world.run() == 0

    assert world.clock.sleeps == [5.0, 5.0, 5.0]
    assert "patch: i-0123456789abcdef0: InProgress" in world.out


def test_patch_timeout_is_ours_not_a_100_second_waiter(world_factory):
    """Timeout: our own deadline, well past 100 s, on a fake clock. moto: stacks, SendCommand.
    Stubber: DescribeInstanceInformation, GetCommandInvocation (moto never reports InProgress),
    DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.releases()
    # --timeout 300 with a 5 s poll: the first look plus one per sleep, until 300 s have passed.
    for _ in range(61):
        world.invocation(HOST, "InProgress")
    world.releases()
    world.states()  # shown, not judged: the run did not finish

    assert world.run("--timeout", "300") == 1

    assert sum(world.clock.sleeps) == 300
    assert f"{HOST}: AWS-RunPatchBaseline WaitTimedOut (still InProgress after 300 s" in world.err


def test_patch_no_reboot_reports_pending_reboot_explicitly_as_a_warning(world_factory, tmp_path):
    """Reboot pending after Install --no-reboot: a warning and its own line, no Online re-check,
    no rescan. moto: stacks, SendCommand. Stubber: DescribeInstanceInformation,
    GetCommandInvocation, DescribeInstancePatchStates.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(env={"GITHUB_STEP_SUMMARY": str(summary)})
    world.online()
    world.releases()
    world.invocation(HOST, "Success")
    # NoReboot: no Online re-check queued; the Stubber would fail on an unexpected call.
    world.releases()
    world.states(**{HOST: {"InstalledPendingRebootCount": 2, "Operation": "Install"}})

    assert world.run("--operation", "Install", "--no-reboot") == 0

    (install,) = world.sent("AWS-RunPatchBaseline")
    assert install["Parameters"]["RebootOption"] == ["NoReboot"]
    assert f"{HOST}: 2 patch(es) installed pending reboot (InstalledPendingReboot" in world.err
    assert f"patch: installed, pending reboot: {HOST} (2)" in world.out
    _, (row,) = table(world.out)
    assert row.split()[:4] == [HOST, "Install", "40", "2"]
    assert "**Installed, pending reboot**" in summary.read_text()


def test_patch_host_not_online_again_after_reboot_fails(world_factory):
    """Not Online again within 10 minutes after a reboot fails the run, without a rescan or a
    release read on a host that is not back. moto: stacks, SendCommand. Stubber:
    DescribeInstanceInformation, GetCommandInvocation, DescribeInstancePatchStates.
    """
    world = world_factory()
    world.online()
    world.releases()
    world.invocation(HOST, "Success")
    for _ in range(61):  # 600 s of polls every 10 s, plus the first
        world.online({HOST: "ConnectionLost"})
    world.states(**{HOST: {"Operation": "Install"}})

    assert world.run("--operation", "Install") == 1

    assert "not Online again 600 s after patching" in world.err
    assert len(world.sent("AWS-RunPatchBaseline")) == 1  # no rescan


def test_patch_several_hosts_one_failing(world_factory, tmp_path):
    """Several hosts (stack output + Patch Group tag), one failing. moto: stacks, EC2 tags,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation (moto cannot fail
    one host), DescribeInstancePatchStates.
    """
    summary = tmp_path / "summary.md"
    world = world_factory(tagged=2, env={"GITHUB_STEP_SUMMARY": str(summary)})
    bad = world.tagged[1]
    world.online()
    world.releases()
    world.invocation(HOST, "InProgress")
    world.invocation(world.tagged[0], "Success")
    world.invocation(bad, "Failed", code=1, stderr="yum lock held\nError: dnf failed")
    world.invocation(HOST, "Success")  # second round: only the unfinished host is asked again
    world.online()
    for host in world.hosts:
        world.invocation(host, "Success")  # the rescan
    world.releases()
    world.states(**{bad: {"FailedCount": 3}})

    assert world.run("--operation", "Install", "--max-errors", "1") == 1

    install, _ = world.sent("AWS-RunPatchBaseline")
    assert sorted(install["InstanceIds"]) == sorted(world.hosts)
    assert f"{bad}: AWS-RunPatchBaseline Failed (Failed, exit code 1)" in world.err
    assert "  Error: dnf failed" in world.err  # the failing host's output is shown
    assert f"patch: {bad} complete stderr: {stdout_url(bad).replace('/stdout', '/stderr')}" in (
        world.err
    )
    # Its failed Install, then the failed patches the Scan after the reboot still sees; the
    # healthy hosts are not counted.
    assert "2 problem(s) on dev" in world.err
    assert f"{bad}: still 0 missing and 3 failed patch(es)" in world.err
    assert not any(f"{ok}:" in world.err.splitlines()[-1] for ok in world.hosts if ok != bad)
    _, rows = table(world.out)
    assert sorted(row.split()[0] for row in rows) == sorted(world.hosts)  # one row per host
    assert "## Patch Install on dev: failed" in summary.read_text()


def test_patch_warns_when_a_host_does_not_install_from_the_pinned_release(world_factory):
    """The release each host reports, against the stack's HostOsRelease. moto: stacks,
    SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation, states."""
    world = world_factory()
    world.online()
    world.releases(release="2023.8.20250915", releasever="2023.8.20250915")
    world.invocation(HOST, "Success")
    world.releases(release="2023.8.20250915", releasever="2023.8.20250915")
    world.states()

    assert world.run() == 0

    _, (row,) = table(world.out)
    assert row.split()[6:9] == ["2023.8.20250915", "2023.8.20250915", "no"]
    assert (
        f"{HOST}: installs from release 2023.8.20250915, the stack pins {RELEASE} "
        "(cfn-hup applies it within minutes of a deploy)"
    ) in world.err


def test_patch_on_an_older_stack_still_patches_and_says_what_it_could_not_do(world_factory):
    """No release document and no output prefix (a stack from before them): the patch still
    runs, with two warnings. moto: stacks, SendCommand. Stubber: as above, no release steps."""
    world = world_factory(outputs={"HostInstanceId": HOST, "PatchGroup": GROUP})
    world.online()
    world.invocation(HOST, "Success")
    world.states()

    assert world.run() == 0

    (scan,) = world.sent()
    assert "OutputS3BucketName" not in scan or not scan["OutputS3BucketName"]
    assert "no HostReleaseDocument output: releases not read" in world.err
    assert "complete output not kept in S3 (the infra stack has no PatchOutputPrefix" in world.err
    _, (row,) = table(world.out)
    assert row.split()[6:9] == ["-", "-", "-"]


def test_patch_follows_the_host_across_a_replacement(world_factory):
    """A new image replaces the host: new instance id, the same Patch Group tag, registered
    with SSM again. The next run patches the new host only. moto: stacks, EC2 (instances,
    termination), SendCommand. Stubber: DescribeInstanceInformation, GetCommandInvocation,
    DescribeInstancePatchStates."""
    world = world_factory(outputs={})  # the outputs are set below, with real instance ids
    (old,) = world.launch(1)
    update_stack_outputs("pets-dev-infra", {**OUTPUTS, "HostInstanceId": old})
    world.hosts = [old]
    world.online()
    world.releases()
    world.invocation(old, "Success")
    world.releases()
    world.states()
    assert world.run() == 0
    assert world.sent("AWS-RunPatchBaseline")[0]["InstanceIds"] == [old]

    # The replacement: CloudFormation launches the new host, then terminates the old one.
    (new,) = world.launch(1)
    world.ec2.terminate_instances(InstanceIds=[old])
    update_stack_outputs("pets-dev-infra", {**OUTPUTS, "HostInstanceId": new})
    world.hosts = [new]
    world.online()
    world.releases(release="2023.9.20251117", boot=REBOOTED)
    world.invocation(new, "Success")
    world.releases(release="2023.9.20251117", boot=REBOOTED)
    world.states()

    assert world.run() == 0

    second = world.out.split("finished on 1 host(s) of dev")[1]
    # The terminated host is neither listed nor sent to; the new one is, by its tag.
    assert f"sent AWS-RunPatchBaseline to {new} (command" in second
    assert old not in second
    _, (row,) = table(second)
    assert row.split()[0] == new


def test_patch_missing_stack_is_one_line(world_factory):
    """No infra stack: one line. moto: CloudFormation only; no SSM call is made."""
    with mock_aws():
        ctx = make_context(
            {"cloudformation": boto3.client("cloudformation", region_name=REGION)},
            clock=FakeClock(),
        )
        assert main(["patch", "--stage", "prod"], ctx) == 1
    assert ctx.err.getvalue() == "patch: stack pets-prod-infra does not exist: deploy it first\n"


def test_ops_patch_sends_no_baseline_override(world_factory):
    """AWS-RunPatchBaseline's BaselineOverride would replace the host's repositories; IAM cannot
    refuse the parameter, so ops never sends it (nor InstallOverrideList): Operation and
    RebootOption only, in every command of an Install with its rescan."""
    world = world_factory()
    world.install_then_rescan()
    world.states()

    assert world.run("--operation", "Install") == 0

    sent = world.sent("AWS-RunPatchBaseline")
    assert len(sent) == 2
    assert [sorted(c["Parameters"]) for c in sent] == [["Operation", "RebootOption"]] * 2


def test_patch_without_leave_to_send_the_release_report_still_patches(world_factory):
    """Credentials that may not send the release document: one warning, and the patch runs."""
    world = world_factory(refuse_release=True)
    world.online()
    world.invocation(HOST, "Success")
    world.states()

    assert world.run() == 0

    assert [c["DocumentName"] for c in world.sent()] == ["AWS-RunPatchBaseline"]
    assert world.err.count(f"releases not read: this role may not send {DOCUMENT}") == 1
