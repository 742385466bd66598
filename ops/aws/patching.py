"""Patch Manager on a stage's hosts: find them, run the baseline, read their release and state.

``ops.commands.patch`` strings these together; each is one concern:

* ``find_hosts``: the stack's ``HostInstanceId`` plus every *running* instance tagged
  ``Patch Group`` = the stack's ``PatchGroup``. A host replaced by a new image is found by the
  same rule: the new instance carries the tag, the terminated one is no longer running.
* ``output_location``: where the complete output of this run goes (stack output
  ``PatchOutputPrefix`` of the stage's own artifacts bucket), so nothing is cut at SSM's 24,000
  characters.
* ``run_baseline``: ``AWS-RunPatchBaseline`` on every host through ``ops.aws.ssm``.
* ``read_releases``: the stack's own release document (output ``HostReleaseDocument``), a fixed
  script that prints the host's Amazon Linux release, the release dnf installs from and the boot
  time. Run before and after a patch, the boot times say whether a host rebooted.
* ``patch_states``: ``DescribeInstancePatchStates``, the compliance counts per host.
"""

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ops import stages
from ops.aws import ssm
from ops.aws.errors import error_code, reason
from ops.cfn.stacks import require
from ops.errors import OpsError

DOCUMENT = "AWS-RunPatchBaseline"
# AWS-RunPatchBaseline has one step per OS family; GetCommandInvocation must name the one
# that ran. The hosts are Amazon Linux 2023.
PLUGIN = "PatchLinux"
PATCH_GROUP_TAG = "Patch Group"  # the tag key Patch Manager reads (with the space)
RELEASE_STEP = "release"  # the one step of the release document (cloudformation/infra.yaml)
RELEASE_TIMEOUT = 120.0


@dataclass
class HostRelease:
    release: str = ""  # the installed system-release package: the release the host is on
    releasever: str = ""  # /etc/dnf/vars/releasever: the release it installs packages from
    boot: str = ""  # when it last booted


def find_hosts(ctx, outputs, stack):
    """The stack's host plus every running instance in its patch group, in a stable order."""
    hosts = []
    if outputs.get("HostInstanceId"):
        hosts.append(outputs["HostInstanceId"])
    group = outputs.get("PatchGroup")
    if group:
        try:
            pages = (
                ctx.client("ec2")
                .get_paginator("describe_instances")
                .paginate(
                    Filters=[
                        {"Name": f"tag:{PATCH_GROUP_TAG}", "Values": [group]},
                        {"Name": "instance-state-name", "Values": ["running"]},
                    ]
                )
            )
            tagged = sorted(
                i["InstanceId"]
                for page in pages
                for reservation in page["Reservations"]
                for i in reservation["Instances"]
            )
        except ClientError as exc:
            raise OpsError(f"patch: cannot list patch group {group}: {reason(exc)}") from exc
        hosts.extend(i for i in tagged if i not in hosts)
    if not hosts:
        require(outputs, stack, "HostInstanceId")  # raises: names the output that is missing
    return hosts


def output_location(ctx, stage, outputs, run_name="ops"):
    """``(bucket, prefix)`` for this run's complete output, or ``(None, why not)``."""
    prefix = outputs.get("PatchOutputPrefix")
    if not prefix:
        return None, "the infra stack has no PatchOutputPrefix output (deploy it again)"
    try:
        bucket = stages.artifacts_bucket(ctx, stage)
    except OpsError as exc:
        return None, str(exc)
    return (bucket, f"{prefix}/{run_name}"), ""


def run_baseline(ctx, hosts, operation, reboot_option, output, args):
    """``AWS-RunPatchBaseline`` on ``hosts``; the ``ssm.CommandResult``."""
    return ssm.send_and_wait(
        ctx,
        DOCUMENT,
        hosts,
        {"Operation": [operation], "RebootOption": [reboot_option]},
        comment=f"ops patch {args.stage} {operation}",
        timeout=args.timeout,
        plugin_name=PLUGIN,
        max_concurrency=args.max_concurrency,
        max_errors=args.max_errors,
        label="patch",
        output_s3=output,
    )


def read_releases(ctx, document, hosts, output):
    """``({host: HostRelease}, [warnings])`` from the release document; never fails the run.

    ``(None, [warning])`` when the caller may not send the document (credentials narrower than
    the stage's patch role, which may: docs/security.md).
    """
    try:
        result = ssm.send_and_wait(
            ctx,
            document,
            hosts,
            {},
            comment="ops patch: release",
            timeout=RELEASE_TIMEOUT,
            plugin_name=RELEASE_STEP,
            max_concurrency="100%",
            max_errors="100%",
            label="patch",
            output_s3=output,
            document_version="$LATEST",
        )
    except OpsError as exc:
        if error_code(exc.__cause__) not in ("AccessDeniedException", "AccessDenied"):
            raise
        return None, [f"releases not read: this role may not send {document}"]
    releases, warnings = {}, []
    for host, inv in result.invocations.items():
        if inv.ok:
            releases[host] = parse_release(inv.stdout)
        else:
            warnings.append(f"{host}: could not read its release ({inv.status})")
    return releases, warnings


def parse_release(text):
    """The ``key=value`` lines the release document prints, as a ``HostRelease``."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("release", "releasever", "boot"):
            found[key.strip()] = value.strip()
    return HostRelease(**found)


def patch_states(ctx, hosts):
    client = ctx.client("ssm")
    states = {}
    try:
        for start in range(0, len(hosts), 50):  # the API takes at most 50 ids
            pages = client.get_paginator("describe_instance_patch_states").paginate(
                InstanceIds=hosts[start : start + 50]
            )
            for page in pages:
                for state in page.get("InstancePatchStates", []):
                    states[state["InstanceId"]] = state
    except ClientError as exc:
        raise OpsError(f"patch: DescribeInstancePatchStates failed: {reason(exc)}") from exc
    return states
