"""``python -m ops patch --stage S``: patch the stage's EC2 hosts now and prove they are compliant.

Steps, each of which can fail the run with one line naming the host:

1. **Find the hosts**: the ``HostInstanceId`` output of ``pets-S-infra`` plus every running
   instance tagged ``Patch Group`` = the stack's ``PatchGroup`` output (so a host added later,
   e.g. by an Auto Scaling group, is patched too without changing this code).
2. **Check they can be reached**: SSM-managed and ``Online`` (``ops.aws.ssm.require_online``).
3. **Run** ``AWS-RunPatchBaseline`` (Operation Scan or Install, RebootOption RebootIfNeeded or
   NoReboot) and wait for **every** host with our own timeout (``ops.aws.ssm``: no 100 s waiter
   limit, tolerant of the invocation not existing yet).
4. After an Install that may reboot, **wait until each host is Online again**.
5. **Read compliance** (``DescribeInstancePatchStates``) and print one row per host: installed,
   installed pending reboot, missing, failed, last operation and its end time. The same table
   goes to ``$GITHUB_STEP_SUMMARY`` as markdown when that is set (GitHub Actions job summary).

Exit 1 when any invocation failed or timed out, when a host reported no patch state for this
run, or, after Install, when a host still has missing or failed patches. Missing patches after
a Scan are the point of a scan: reported, not a failure. Installed-pending-reboot is a warning:
with ``--no-reboot`` it is what was asked for.
"""

from datetime import UTC

from botocore.exceptions import ClientError

from ops import report, stages
from ops.aws import ssm
from ops.aws.errors import reason
from ops.cfn.stacks import require, stack_outputs
from ops.errors import OpsError

DOCUMENT = "AWS-RunPatchBaseline"
# AWS-RunPatchBaseline has one step per OS family; GetCommandInvocation must name the one
# that ran. The hosts are Amazon Linux 2023.
PLUGIN = "PatchLinux"
PATCH_GROUP_TAG = "Patch Group"  # the tag key Patch Manager reads (with the space)
ONLINE_AFTER_REBOOT_TIMEOUT = 600.0
OUTPUT_TAIL_LINES = 30

COLUMNS = (
    ("Instance", "InstanceId"),
    ("Operation", "Operation"),
    ("Installed", "InstalledCount"),
    ("Pending reboot", "InstalledPendingRebootCount"),
    ("Missing", "MissingCount"),
    ("Failed", "FailedCount"),
    ("Last operation end", "OperationEndTime"),
)


def add_arguments(parser):
    parser.description = (
        "Run AWS-RunPatchBaseline on every host of the stage (stack output HostInstanceId "
        "and the Patch Group tag), wait for all of them, then print each host's patch "
        "state. Exit 1 if a run failed or timed out, or if after Install a host still has "
        "missing or failed patches. See docs/patching.md."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--operation",
        choices=("Scan", "Install"),
        default="Scan",
        help="Scan reports what is missing; Install installs it (default: Scan)",
    )
    reboot = parser.add_mutually_exclusive_group()
    reboot.add_argument(
        "--reboot-if-needed",
        dest="reboot_option",
        action="store_const",
        const="RebootIfNeeded",
        help="reboot a host when an installed patch needs it (default)",
    )
    reboot.add_argument(
        "--no-reboot",
        dest="reboot_option",
        action="store_const",
        const="NoReboot",
        help="never reboot; patches needing one stay 'pending reboot'",
    )
    parser.set_defaults(reboot_option="RebootIfNeeded")
    parser.add_argument(
        "--max-concurrency",
        default="1",
        help="hosts patched at once, a number or a percentage (default: 1)",
    )
    parser.add_argument(
        "--max-errors",
        default="0",
        help="failed hosts after which SSM stops sending to the rest (default: 0)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for all hosts to finish (default: 3600)",
    )


def run(args, ctx):
    stack = stages.stack_name(args.stage, "infra")
    try:
        hosts = find_hosts(ctx, stack)
        ssm.require_online(ctx, hosts, label="patch")
    except OpsError as exc:
        _summary(ctx, args, None, [str(exc)], [])  # the job summary says why nothing ran
        raise
    result = ssm.send_and_wait(
        ctx,
        DOCUMENT,
        hosts,
        {"Operation": [args.operation], "RebootOption": [args.reboot_option]},
        comment=f"ops patch {args.stage} {args.operation}",
        timeout=args.timeout,
        plugin_name=PLUGIN,
        max_concurrency=args.max_concurrency,
        max_errors=args.max_errors,
        label="patch",
    )
    problems = []
    for inv in result.failed():
        problems.append(f"{inv.instance_id}: {DOCUMENT} {inv.status} {_why(inv)}")
        _print_output(ctx, inv)
    if args.operation == "Install" and args.reboot_option == "RebootIfNeeded":
        # A reboot, if one happened, is over when the invocation finishes; the agent's ping
        # can lag behind. Until it is Online again the host is not usable (nor patchable).
        try:
            ssm.wait_online(ctx, hosts, timeout=ONLINE_AFTER_REBOOT_TIMEOUT, label="patch")
        except OpsError as exc:
            problems.append(str(exc).removeprefix("patch: "))
    states = patch_states(ctx, hosts)
    rows, state_problems, warnings = assess(hosts, states, result, args.operation)
    problems.extend(state_problems)
    _report(ctx, args, rows, problems, warnings)
    if problems:
        raise OpsError(f"patch: {len(problems)} problem(s) on {args.stage}: " + "; ".join(problems))
    ctx.say(f"patch: {args.operation} finished on {len(hosts)} host(s) of {args.stage}")
    return 0


def find_hosts(ctx, stack):
    """The stack's host plus every running instance in its patch group, in a stable order."""
    outputs = stack_outputs(ctx, stack)
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


def assess(hosts, states, result, operation):
    """Rows for the table, problems that fail the run, and warnings that do not."""
    rows, problems, warnings = [], [], []
    for host in hosts:
        state = states.get(host)
        inv = result.invocations.get(host)
        if state is None:
            rows.append({"InstanceId": host})
            if inv is not None and inv.ok:
                problems.append(f"{host}: no patch state reported")
            continue
        rows.append(state)
        if inv is None or not inv.ok:
            continue  # already a problem; the state shown is from an earlier run
        ended = state.get("OperationEndTime")
        if result.requested_at is not None and ended is not None and ended < result.requested_at:
            problems.append(f"{host}: patch state is from before this run ({_time(ended)})")
            continue
        missing, failed = state.get("MissingCount", 0), state.get("FailedCount", 0)
        if operation == "Install" and (missing or failed):
            problems.append(f"{host}: still {missing} missing and {failed} failed patch(es)")
        elif missing:
            warnings.append(f"{host}: {missing} missing patch(es); run --operation Install")
        pending = state.get("InstalledPendingRebootCount", 0)
        if pending:
            warnings.append(
                f"{host}: {pending} patch(es) installed pending reboot; "
                "reboot it or run Install with --reboot-if-needed"
            )
    return rows, problems, warnings


def table(rows, markdown=False):
    headers = [title for title, _ in COLUMNS]
    body = [[_cell(row, key) for _, key in COLUMNS] for row in rows]
    return report.markdown_table(headers, body) if markdown else report.text_table(headers, body)


def _report(ctx, args, rows, problems, warnings):
    ctx.say(table(rows))
    for line in warnings:
        ctx.warn(f"patch: warning: {line}")
    for line in problems:
        ctx.warn(f"patch: FAILED: {line}")
    _summary(ctx, args, rows, problems, warnings)


def _summary(ctx, args, rows, problems, warnings):
    verdict = "failed" if problems else "passed"
    parts = [f"## Patch {args.operation} on {args.stage}: {verdict}", ""]
    if rows is not None:
        parts += [table(rows, markdown=True), ""]
    parts += [f"- :x: {p}" for p in problems] + [f"- :warning: {w}" for w in warnings]
    report.append_summary(ctx, "\n".join(parts))


def _cell(row, key):
    value = row.get(key)
    if value is None:
        return "-"
    return _time(value) if key == "OperationEndTime" else str(value)


def _time(value):
    if not hasattr(value, "astimezone"):
        return str(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _why(inv):
    bits = [inv.details] if inv.details else []
    if inv.response_code is not None:
        bits.append(f"exit code {inv.response_code}")
    return f"({', '.join(bits)})" if bits else ""


def _print_output(ctx, inv):
    for name, text in (("stdout", inv.stdout), ("stderr", inv.stderr)):
        lines = text.strip().splitlines()
        if lines:
            ctx.warn(f"patch: {inv.instance_id} {name} (last {OUTPUT_TAIL_LINES} lines):")
            for line in lines[-OUTPUT_TAIL_LINES:]:
                ctx.warn(f"  {line}")
