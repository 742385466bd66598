"""Run a command on EC2 hosts through SSM Run Command and wait for every one of them.

Why not botocore's ``command_executed`` waiter (what ``aws ssm wait command-executed`` uses):

* it watches **one** instance per call, so a command sent to several hosts needs one waiter
  each and a failure on one host is only seen once the others are done;
* it gives up after 20 attempts of 5 s (about 100 s, botocore #3269), while a patch run takes
  minutes, and its only answer on giving up is a ``WaiterError`` that says nothing about why;
* right after ``SendCommand`` the invocation often does not exist yet, and
  ``GetCommandInvocation`` answers ``InvocationDoesNotExist`` (aws-sdk #86). The waiter treats
  that as a failure or retries blindly depending on the version.

So ``send_and_wait`` sends the command to explicit instance ids, then polls
``GetCommandInvocation`` for every instance that is not finished yet, each round, with our own
deadline and the injected ``ctx.sleep``/``ctx.clock`` (tests advance a fake clock instead of
sleeping). ``InvocationDoesNotExist`` means "not visible yet" and is polled again, until the
deadline. It returns one ``Invocation`` per instance: status, status details, exit code, output.

A document with more than one step (``AWS-RunPatchBaseline`` has PatchWindows, PatchLinux and
PatchMacOS) must name the step in ``GetCommandInvocation``; ``plugin_name`` does that.

``GetCommandInvocation`` keeps only the first 24,000 characters of stdout and 8,000 of stderr.
With ``output_s3=(bucket, prefix)`` the agent on each host also uploads the complete output
there (with the host's own credentials), and each ``Invocation`` carries its URLs.

``require_online`` checks, before anything is sent, that every target is SSM-managed and its
agent is ``Online`` (``DescribeInstanceInformation``), so a host that cannot run the command
fails clearly at once instead of sitting in Pending until the delivery timeout.
``wait_online`` polls the same API, for after a reboot.
"""

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ops import report
from ops.aws.errors import error_code, reason
from ops.errors import OpsError

# GetCommandInvocation statuses after which nothing changes any more.
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}
# The status we give an instance that had no terminal status when our own deadline passed.
WAIT_TIMED_OUT = "WaitTimedOut"


@dataclass
class Invocation:
    instance_id: str
    status: str = "NotVisible"  # until GetCommandInvocation first answers for this instance
    details: str = ""
    response_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_url: str = ""  # the complete output in S3, when the command was sent with output_s3
    stderr_url: str = ""

    @property
    def ok(self):
        return self.status == "Success"

    @property
    def finished(self):
        return self.status in TERMINAL


@dataclass
class CommandResult:
    command_id: str
    requested_at: object  # datetime from SendCommand: when AWS accepted the command
    invocations: dict  # instance id -> Invocation
    output_uri: str = ""  # s3://bucket/prefix/command-id/: every host's complete output

    @property
    def ok(self):
        return all(i.ok for i in self.invocations.values())

    def failed(self):
        return [i for i in self.invocations.values() if not i.ok]


def send_and_wait(
    ctx,
    document,
    instance_ids,
    parameters,
    *,
    comment,
    timeout,
    plugin_name=None,
    max_concurrency="1",
    max_errors="0",
    poll_interval=5.0,
    label="ssm",
    output_s3=None,
    document_version=None,
):
    """Send ``document`` to ``instance_ids`` and wait until every invocation has finished.

    ``timeout`` (seconds) bounds our whole wait and is also the delivery timeout given to SSM,
    so a host that never picks the command up is reported by SSM as well as by us.
    ``output_s3`` is ``(bucket, key prefix)`` for the complete output; ``document_version`` runs
    a version other than the document's default (``$LATEST``).
    """
    ssm = ctx.client("ssm")
    instance_ids = list(dict.fromkeys(instance_ids))
    extra = {}
    if output_s3:
        extra["OutputS3BucketName"], extra["OutputS3KeyPrefix"] = output_s3
    if document_version:
        extra["DocumentVersion"] = document_version
    try:
        response = ssm.send_command(
            DocumentName=document,
            InstanceIds=instance_ids,
            Parameters=parameters,
            Comment=comment[:100],  # the API's limit
            TimeoutSeconds=max(30, int(timeout)),  # the API's minimum
            MaxConcurrency=str(max_concurrency),
            MaxErrors=str(max_errors),
            **extra,
        )
    except ClientError as exc:
        raise OpsError(f"{label}: SendCommand {document} failed: {reason(exc)}") from exc
    command = response["Command"]
    command_id = command["CommandId"]
    ctx.say(f"{label}: sent {document} to {', '.join(instance_ids)} (command {command_id})")
    invocations = wait_for_command(
        ctx,
        command_id,
        instance_ids,
        timeout=timeout,
        plugin_name=plugin_name,
        poll_interval=poll_interval,
        label=label,
    )
    uri = f"s3://{output_s3[0]}/{output_s3[1]}/{command_id}/" if output_s3 else ""
    return CommandResult(command_id, command.get("RequestedDateTime"), invocations, uri)


def wait_for_command(
    ctx, command_id, instance_ids, *, timeout, plugin_name=None, poll_interval=5.0, label="ssm"
):
    """Poll every instance of ``command_id`` until each is terminal or ``timeout`` passes."""
    ssm = ctx.client("ssm")
    invocations = {i: Invocation(i) for i in instance_ids}
    deadline = ctx.clock() + timeout
    heartbeat = report.Heartbeat(ctx)
    while True:
        for inv in invocations.values():
            if not inv.finished and _refresh(ssm, command_id, inv, plugin_name, ctx, label):
                heartbeat.changed()
        pending = [i for i in invocations.values() if not i.finished]
        if not pending:
            return invocations
        heartbeat.beat(
            f"{label}: still waiting for "
            + ", ".join(f"{i.instance_id} ({i.status})" for i in pending)
        )
        if ctx.clock() >= deadline:
            for inv in pending:
                last = inv.status
                inv.status = WAIT_TIMED_OUT
                inv.details = (
                    f"still {last} after {timeout:g} s; command {command_id} may still be "
                    "running (see Run Command history in the SSM console)"
                )
            return invocations
        ctx.sleep(poll_interval)


def _refresh(ssm, command_id, inv, plugin_name, ctx, label):
    """Read one invocation's state into ``inv``; True when its status changed (and was said)."""
    kwargs = {"CommandId": command_id, "InstanceId": inv.instance_id}
    if plugin_name:
        kwargs["PluginName"] = plugin_name
    try:
        answer = ssm.get_command_invocation(**kwargs)
    except ClientError as exc:
        if error_code(exc) == "InvocationDoesNotExist":
            return False  # not visible yet just after SendCommand (aws-sdk #86): ask again
        raise OpsError(f"{label}: GetCommandInvocation failed: {reason(exc)}") from exc
    status = answer.get("Status", "Pending")
    changed = status != inv.status
    if changed:
        ctx.say(f"{label}: {inv.instance_id}: {status}")
    inv.status = status
    inv.details = answer.get("StatusDetails", "")
    code = answer.get("ResponseCode")
    inv.response_code = code if code is not None and code >= 0 else None
    inv.stdout = answer.get("StandardOutputContent", "")
    inv.stderr = answer.get("StandardErrorContent", "")
    inv.stdout_url = answer.get("StandardOutputUrl", "")
    inv.stderr_url = answer.get("StandardErrorUrl", "")
    return changed


def instance_information(ssm, instance_ids):
    """``{instance id: InstanceInformation}`` for the ids SSM knows; unknown ids are absent."""
    found = {}
    paginator = ssm.get_paginator("describe_instance_information")
    # The InstanceIds filter takes at most 50 values.
    for start in range(0, len(instance_ids), 50):
        chunk = list(instance_ids[start : start + 50])
        pages = paginator.paginate(Filters=[{"Key": "InstanceIds", "Values": chunk}])
        for page in pages:
            for info in page.get("InstanceInformationList", []):
                found[info["InstanceId"]] = info
    return found


def offline_reasons(ssm, instance_ids):
    """``{instance id: why it cannot run a command now}`` for every target that is not Online."""
    try:
        info = instance_information(ssm, instance_ids)
    except ClientError as exc:
        raise OpsError(f"DescribeInstanceInformation failed: {reason(exc)}") from exc
    reasons = {}
    for instance_id in instance_ids:
        if instance_id not in info:
            reasons[instance_id] = (
                "not SSM-managed (no agent registered: check the instance profile has "
                "AmazonSSMManagedInstanceCore and the host can reach SSM)"
            )
        elif info[instance_id].get("PingStatus") != "Online":
            reasons[instance_id] = f"SSM agent is {info[instance_id].get('PingStatus')}"
    return reasons


def require_online(ctx, instance_ids, label="ssm"):
    """Fail with one line naming every target that is not SSM-managed and Online."""
    reasons = offline_reasons(ctx.client("ssm"), instance_ids)
    if reasons:
        listed = "; ".join(f"{i}: {why}" for i, why in reasons.items())
        raise OpsError(f"{label}: cannot run commands on {listed}")
    ctx.say(f"{label}: {', '.join(instance_ids)} SSM-managed and Online")


def wait_online(ctx, instance_ids, *, timeout, poll_interval=10.0, label="ssm"):
    """Poll until every target is Online again (after a reboot); fail after ``timeout``."""
    deadline = ctx.clock() + timeout
    ssm = ctx.client("ssm")
    while True:
        reasons = offline_reasons(ssm, instance_ids)
        if not reasons:
            return
        if ctx.clock() >= deadline:
            listed = "; ".join(f"{i}: {why}" for i, why in reasons.items())
            raise OpsError(f"{label}: not Online again {timeout:g} s after patching: {listed}")
        ctx.sleep(poll_interval)
