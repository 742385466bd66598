"""``python -m ops drift --stage S``: has anything in the stage been changed outside CloudFormation?

CloudFormation's drift detection compares every supported resource's live configuration with
what the template says. It is asynchronous, so the command works in three steps:

1. **Start** a detection on every stack of the stage (``pets-S-infra``, ``pets-S-api``) at once
   (``DetectStackDrift``), so both stacks are checked in parallel on the AWS side. A stack that
   does not exist (a stage not deployed yet, or torn down) gets one clear line and is not an error.
2. **Wait** for each detection (``DescribeStackDriftDetectionStatus``), sleeping through
   ``ctx.sleep`` between polls, within one overall ``--timeout``.
3. **List** the drifted resources of each drifted stack (``DescribeStackResourceDrifts``, filtered
   to MODIFIED and DELETED, every page) with their property differences (path, expected, actual).

The report goes to stdout as text and, when ``GITHUB_STEP_SUMMARY`` is set (GitHub Actions), to
the job summary as markdown: one row per stack, then one row per drifted resource. The exit code
is 1 when anything drifted, and also when a detection failed or timed out, because then nobody
knows whether the stage drifted; a missing stack alone exits 0. Access and credential errors stop
the run with one line (``OpsError``).

Drift detection only covers what the template declares: a property the template leaves at its
default, or a resource created by hand beside the stack, is not reported.

The tests drive a real botocore client through botocore's Stubber, because moto implements
none of the three drift APIs.
"""

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops import report, stages
from ops.aws.errors import error_code, error_message
from ops.errors import OpsError

DEFAULT_TIMEOUT = 600.0  # seconds for the whole stage; a detection usually takes under a minute
DEFAULT_POLL = 5.0
DRIFT_FILTERS = ["MODIFIED", "DELETED"]
_MAX_CELL = 160  # characters of one expected/actual value shown in the summary table

# Result states of one stack, and whether each one fails the run.
MISSING, IN_SYNC, DRIFTED, FAILED, TIMED_OUT = (
    "missing",
    "in-sync",
    "drifted",
    "failed",
    "timed-out",
)
FAILING = {DRIFTED, FAILED, TIMED_OUT}


@dataclass
class StackDrift:
    stack: str
    state: str
    detail: str = ""
    resources: list = field(default_factory=list)  # StackResourceDrift dicts, sorted


def add_arguments(parser):
    parser.description = (
        "Run CloudFormation drift detection on pets-STAGE-infra and pets-STAGE-api, list "
        "every drifted resource with its property differences (stdout, and the GitHub job "
        "summary when GITHUB_STEP_SUMMARY is set) and exit 1 when anything drifted or could "
        "not be checked. A stack that does not exist is reported and skipped."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds to wait for the detections to finish",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=DEFAULT_POLL,
        metavar="SECONDS",
        help="seconds between status checks",
    )


def run(args, ctx):
    names = [stack.name for stack in stages.stacks(args.stage)]
    results = detect(ctx, names, timeout=args.timeout, poll=args.poll)
    for line in text_report(results):
        ctx.say(line)
    report.append_summary(ctx, markdown_report(args.stage, results))
    failing = [r for r in results if r.state in FAILING]
    if not failing:
        ctx.say(f"drift: {args.stage}: no drift")
        return 0
    names = ", ".join(f"{r.stack} ({_short(r)})" for r in failing)
    ctx.say(f"drift: {args.stage}: {names}")
    return 1


def detect(ctx, stacks, timeout=DEFAULT_TIMEOUT, poll=DEFAULT_POLL):
    """Detect drift on ``stacks``; return one ``StackDrift`` per stack, in the order given."""
    cfn = ctx.client("cloudformation")
    started = {}
    results = {}
    for name in stacks:
        try:
            started[name] = _call(cfn.detect_stack_drift, name, StackName=name)[
                "StackDriftDetectionId"
            ]
        except _StackProblem as problem:
            results[name] = problem.result
    deadline = ctx.clock() + timeout
    for name, detection_id in started.items():
        try:
            results[name] = _wait(ctx, cfn, name, detection_id, deadline, timeout, poll)
        except _StackProblem as problem:
            results[name] = problem.result
    return [results[name] for name in stacks]


def _wait(ctx, cfn, name, detection_id, deadline, timeout, poll):
    heartbeat = report.Heartbeat(ctx)
    while True:
        status = _call(
            cfn.describe_stack_drift_detection_status, name, StackDriftDetectionId=detection_id
        )
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            break
        if ctx.clock() >= deadline:
            return StackDrift(
                name, TIMED_OUT, f"detection still in progress after {timeout:g} s ({detection_id})"
            )
        heartbeat.beat(f"drift: {name}: detection still in progress")
        ctx.sleep(poll)
    reason = status.get("DetectionStatusReason") or ""
    if status.get("StackDriftStatus") == "DRIFTED":
        # DETECTION_FAILED can still carry results for the resources that were checked.
        note = (
            f"detection incomplete: {reason}"
            if status["DetectionStatus"] != "DETECTION_COMPLETE"
            else ""
        )
        return StackDrift(name, DRIFTED, note, _resource_drifts(cfn, name))
    if status["DetectionStatus"] == "DETECTION_FAILED":
        return StackDrift(name, FAILED, f"detection failed: {reason or 'no reason given'}")
    if status.get("StackDriftStatus") == "IN_SYNC":
        return StackDrift(name, IN_SYNC)
    return StackDrift(
        name, FAILED, f"CloudFormation reported drift status {status.get('StackDriftStatus')}"
    )


def _resource_drifts(cfn, name):
    kwargs = {"StackName": name, "StackResourceDriftStatusFilters": DRIFT_FILTERS}
    drifts = []
    while True:
        page = _call(cfn.describe_stack_resource_drifts, name, **kwargs)
        drifts.extend(page.get("StackResourceDrifts", []))
        if not page.get("NextToken"):
            return sorted(drifts, key=lambda d: d["LogicalResourceId"])
        kwargs["NextToken"] = page["NextToken"]


class _StackProblem(Exception):
    """A problem with one stack that the report shows without stopping the other stacks."""

    def __init__(self, result):
        super().__init__(result.detail)
        self.result = result


def _call(method, stack, **kwargs):
    try:
        return method(**kwargs)
    except NoCredentialsError as exc:
        raise OpsError(
            "drift: no AWS credentials (set AWS_PROFILE, or run where a role is assumed)"
        ) from exc
    except ClientError as exc:
        code, message = error_code(exc) or "?", error_message(exc)
        if code == "ValidationError" and "does not exist" in message:
            raise _StackProblem(
                StackDrift(stack, MISSING, "stack does not exist; nothing to check")
            ) from exc
        if code == "ValidationError":
            # e.g. a stack in the middle of an update, which CloudFormation refuses to check.
            raise _StackProblem(StackDrift(stack, FAILED, message)) from exc
        raise OpsError(f"drift: {exc.operation_name} on {stack}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise OpsError(f"drift: {stack}: {exc}") from exc


def _short(result):
    if result.state == DRIFTED:
        return f"drifted, {len(result.resources)} resource(s)"
    return result.state if not result.detail else f"{result.state}: {result.detail}"


def text_report(results):
    """Lines for stdout: one per stack, then per drifted resource and property difference."""
    lines = []
    for r in results:
        if r.state == MISSING:
            lines.append(f"drift: {r.stack}: {r.detail}")
        elif r.state == IN_SYNC:
            lines.append(f"drift: {r.stack}: IN_SYNC")
        elif r.state == DRIFTED:
            lines.append(f"drift: {r.stack}: DRIFTED, {len(r.resources)} resource(s)")
            if r.detail:
                lines.append(f"  note: {r.detail}")
            for d in r.resources:
                lines.append(
                    f"  {d['LogicalResourceId']} ({d['ResourceType']}): "
                    f"{d['StackResourceDriftStatus']}"
                )
                for p in d.get("PropertyDifferences", []):
                    lines.append(
                        f"    {p['PropertyPath']}: {p['DifferenceType']}, "
                        f"expected {p['ExpectedValue']!r}, actual {p['ActualValue']!r}"
                    )
        else:
            lines.append(f"drift: {r.stack}: {r.state.upper()}: {r.detail}")
    return lines


_STATE_CELL = {
    MISSING: "not deployed (stack does not exist)",
    IN_SYNC: "in sync",
    DRIFTED: "**DRIFTED**",
    FAILED: "**check failed**",
    TIMED_OUT: "**check timed out**",
}


def markdown_report(stage, results):
    """The job summary: a table of stacks, then a table of drifted resources per drifted stack."""
    rows = []
    for r in results:
        detail = f"{len(r.resources)} drifted resource(s)" if r.state == DRIFTED else r.detail
        if r.state == DRIFTED and r.detail:
            detail += f"; {r.detail}"
        rows.append((f"`{r.stack}`", _STATE_CELL[r.state], detail))
    out = [f"## Drift: {stage}", "", report.markdown_table(("Stack", "Result", "Detail"), rows)]
    for r in results:
        if r.state != DRIFTED:
            continue
        rows = []
        for d in r.resources:
            diffs = "<br>".join(
                f"{_code(p['PropertyPath'])} {p['DifferenceType']}: expected "
                f"{_code(p['ExpectedValue'])}, actual {_code(p['ActualValue'])}"
                for p in d.get("PropertyDifferences", [])
            )
            rows.append(
                (
                    f"`{d['LogicalResourceId']}`",
                    f"`{d['ResourceType']}`",
                    d["StackResourceDriftStatus"],
                    diffs or "-",
                )
            )
        headers = ("Logical id", "Type", "Drift", "Property differences")
        out += ["", f"### {r.stack}", "", report.markdown_table(headers, rows)]
    return "\n".join(out) + "\n"


def _code(value):
    """``value`` as inline code on one line, cut at ``_MAX_CELL`` characters."""
    text = " ".join(str(value).split()).replace("`", "'")
    if len(text) > _MAX_CELL:
        text = text[: _MAX_CELL - 1] + "…"
    return f"`{text}`"
