"""``python -m ops patch --stage S``: patch the stage's EC2 hosts now and prove they are compliant.

Steps (the machinery is ``ops.aws.patching`` and ``ops.aws.ssm``), each of which can fail the
run with one line naming the host:

1. **Find the hosts**: the ``HostInstanceId`` output of ``pets-S-infra`` plus every running
   instance tagged ``Patch Group`` = the stack's ``PatchGroup`` output (so a host added later,
   or one that replaced the old host, is patched too without changing this code).
2. **Check they can be reached**: SSM-managed and ``Online``.
3. **Read each host's release** (the stack's release document) and boot time.
4. **Run** ``AWS-RunPatchBaseline`` (Operation Scan or Install, RebootOption RebootIfNeeded or
   NoReboot) and wait for **every** host with our own timeout. The complete output goes to the
   stage's artifacts bucket (``patch-output/ops/``); the report links it.
5. After an Install that may reboot: **wait until each host is Online again, then Scan again**,
   so the compliance reported is the one after the reboot.
6. **Read the release again** (did the host reboot? does it install from the pinned release?)
   and **compliance** (``DescribeInstancePatchStates``), and print one row per host. The same
   table goes to ``$GITHUB_STEP_SUMMARY`` as markdown when that is set.

Exit 1 when any invocation failed or timed out, when a host reported no patch state for this
run, or, after Install, when a host still has missing or failed patches, or still has patches
installed pending reboot although it was allowed to reboot. Missing patches after a Scan are the
point of a scan: reported, not a failure. Installed-pending-reboot without a reboot allowed is
reported explicitly as a warning: with ``--no-reboot`` it is what was asked for.
"""

from datetime import UTC

from ops import report, stages
from ops.aws import patching, ssm
from ops.cfn.stacks import stack_outputs
from ops.errors import OpsError

ONLINE_AFTER_REBOOT_TIMEOUT = 600.0
OUTPUT_TAIL_LINES = 30

COLUMNS = (
    ("Instance", "InstanceId"),
    ("Operation", "Operation"),
    ("Installed", "InstalledCount"),
    ("Pending reboot", "InstalledPendingRebootCount"),
    ("Missing", "MissingCount"),
    ("Failed", "FailedCount"),
    ("Release", "Release"),
    ("Installs from", "Releasever"),
    ("Rebooted", "Rebooted"),
    ("Last operation end", "OperationEndTime"),
)


def add_arguments(parser):
    parser.description = (
        "Run AWS-RunPatchBaseline on every host of the stage (stack output HostInstanceId "
        "and the Patch Group tag), wait for all of them (through a reboot, then Scan again), "
        "then print each host's patch state and Amazon Linux release. Exit 1 if a run failed "
        "or timed out, or if after Install a host still has missing, failed or "
        "pending-reboot patches. See docs/patching.md."
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
        help="reboot a host when an installed patch needs it, then Scan again (default)",
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
        outputs = stack_outputs(ctx, stack)
        hosts = patching.find_hosts(ctx, outputs, stack)
        ssm.require_online(ctx, hosts, label="patch")
    except OpsError as exc:
        _summary(ctx, args, None, [str(exc)], [], [])  # the job summary says why nothing ran
        raise
    warnings = []
    output, why_not = patching.output_location(ctx, args.stage, outputs)
    if output is None:
        warnings.append(f"complete output not kept in S3 ({why_not}); SSM keeps its first part")
    document = outputs.get("HostReleaseDocument")
    before = {}
    if document:
        before, denied = patching.read_releases(ctx, document, hosts, output)
        if before is None:
            warnings += denied
            before, document = {}, None
    result = patching.run_baseline(ctx, hosts, args.operation, args.reboot_option, output, args)
    runs, problems = [result], _failures(ctx, result)
    rescanned = args.operation == "Install" and args.reboot_option == "RebootIfNeeded"
    after = {}
    if rescanned:
        # The invocation ends once the host is back from its reboot; the agent's ping can lag
        # behind. Then a Scan: Install's own report may predate the reboot.
        try:
            ssm.wait_online(ctx, hosts, timeout=ONLINE_AFTER_REBOOT_TIMEOUT, label="patch")
        except OpsError as exc:
            problems.append(str(exc).removeprefix("patch: "))
            rescanned = False
            document = None  # a host that is not back cannot say its release either
        else:
            rescan = patching.run_baseline(ctx, hosts, "Scan", "NoReboot", output, args)
            runs.append(rescan)
            problems += _failures(ctx, rescan)
    if document:
        after, release_warnings = patching.read_releases(ctx, document, hosts, output)
        warnings += release_warnings
    elif "HostReleaseDocument" not in outputs:
        warnings.append("the infra stack has no HostReleaseDocument output: releases not read")
    states = patching.patch_states(ctx, hosts)
    rows, state_problems, state_warnings, pending = assess(
        hosts,
        states,
        runs[-1],
        args.operation,
        rebooted_and_rescanned=rescanned,
        releases=(before, after),
        pinned=outputs.get("HostOsRelease", ""),
    )
    problems += state_problems
    warnings += state_warnings
    _report(ctx, args, rows, problems, warnings, pending, runs)
    if problems:
        raise OpsError(f"patch: {len(problems)} problem(s) on {args.stage}: " + "; ".join(problems))
    ctx.say(f"patch: {args.operation} finished on {len(hosts)} host(s) of {args.stage}")
    return 0


def _failures(ctx, result):
    problems = []
    for inv in result.failed():
        problems.append(f"{inv.instance_id}: {patching.DOCUMENT} {inv.status} {_why(inv)}")
        _print_output(ctx, inv)
    return problems


def assess(hosts, states, result, operation, *, rebooted_and_rescanned, releases, pinned):
    """Rows for the table, problems that fail the run, warnings that do not, and the hosts with
    patches installed pending reboot (``{host: count}``), reported on their own."""
    before, after = releases
    rows, problems, warnings, pending_reboot = [], [], [], {}
    for host in hosts:
        state = states.get(host)
        inv = result.invocations.get(host)
        row = {"InstanceId": host, **_release_cells(before.get(host), after.get(host))}
        release = after.get(host)
        if pinned and release and release.releasever and release.releasever != pinned:
            warnings.append(
                f"{host}: installs from release {release.releasever}, the stack pins {pinned} "
                "(cfn-hup applies it within minutes of a deploy)"
            )
        if state is None:
            rows.append(row)
            if inv is not None and inv.ok:
                problems.append(f"{host}: no patch state reported")
            continue
        rows.append({**state, **row})
        pending = state.get("InstalledPendingRebootCount", 0)
        if pending:
            pending_reboot[host] = pending
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
        if pending and rebooted_and_rescanned:
            problems.append(
                f"{host}: {pending} patch(es) still installed pending reboot after the reboot"
            )
        elif pending:
            warnings.append(
                f"{host}: {pending} patch(es) installed pending reboot (InstalledPendingReboot: "
                "not in effect, and the host is non-compliant, until it reboots); reboot it or "
                "run Install with --reboot-if-needed"
            )
    return rows, problems, warnings, pending_reboot


def _release_cells(before, after):
    cells = {}
    if after is not None:
        cells["Release"] = after.release or None
        cells["Releasever"] = after.releasever or None
    if before is not None and after is not None and before.boot and after.boot:
        cells["Rebooted"] = "yes" if before.boot != after.boot else "no"
    return cells


def table(rows, markdown=False):
    headers = [title for title, _ in COLUMNS]
    body = [[_cell(row, key) for _, key in COLUMNS] for row in rows]
    return report.markdown_table(headers, body) if markdown else report.text_table(headers, body)


def _report(ctx, args, rows, problems, warnings, pending, runs):
    ctx.say(table(rows))
    if pending:
        ctx.say(
            "patch: installed, pending reboot: "
            + ", ".join(f"{host} ({count})" for host, count in pending.items())
        )
    for result in runs:
        if result.output_uri:
            ctx.say(f"patch: complete output of command {result.command_id}: {result.output_uri}")
    for line in warnings:
        ctx.warn(f"patch: warning: {line}")
    for line in problems:
        ctx.warn(f"patch: FAILED: {line}")
    _summary(ctx, args, rows, problems, warnings, runs, pending)


def _summary(ctx, args, rows, problems, warnings, runs, pending=None):
    verdict = "failed" if problems else "passed"
    parts = [f"## Patch {args.operation} on {args.stage}: {verdict}", ""]
    if rows is not None:
        parts += [table(rows, markdown=True), ""]
    if pending:
        parts += ["**Installed, pending reboot** (non-compliant until they reboot):", ""]
        parts += [f"- `{host}`: {count} patch(es)" for host, count in pending.items()]
        parts += [""]
    links = _output_links(runs)
    if links:
        parts += ["Complete output (S3):", "", *links, ""]
    parts += [f"- :x: {p}" for p in problems] + [f"- :warning: {w}" for w in warnings]
    report.append_summary(ctx, "\n".join(parts))


def _output_links(runs):
    links = []
    for result in runs:
        for host, inv in result.invocations.items():
            if inv.stdout_url:
                label = f"`{host}` {result.command_id}"
                links.append(f"- {label}: [stdout]({inv.stdout_url})")
    return links


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
        url = inv.stdout_url if name == "stdout" else inv.stderr_url
        if url:
            ctx.warn(f"patch: {inv.instance_id} complete {name}: {url}")
