"""``python -m ops logs --stage S``: the API's log lines, from the function's log group.

The group is ``/aws/lambda/<FunctionName>``, the function named by the ``FunctionName`` output of
``pets-<stage>-api``. ``--request-id`` keeps the lines that mention an id: the API's request
line carries API Gateway's request id (the ``x-amzn-RequestId`` a client receives, and the
``requestId`` of the access log), Lambda's own START/END/REPORT lines carry Lambda's request id.
``--since``/``--until`` take a duration back from now (``30s``, ``10m``, ``2h``, ``1d``) or an
ISO 8601 time; ``--follow`` keeps printing new lines until Ctrl-C.
"""

import datetime as dt
import re

from ops import stages
from ops.aws import logs
from ops.cfn.stacks import require, stack_outputs
from ops.errors import OpsError

_DURATION = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_arguments(parser):
    parser.description = (
        "Print the API's log lines (its Lambda function's log group) for a time range, "
        "optionally only those of one request, or follow new lines as they come."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--request-id",
        metavar="ID",
        help="only lines that mention this id (API Gateway's or Lambda's request id)",
    )
    parser.add_argument(
        "--since",
        default="10m",
        metavar="WHEN",
        help="start: a duration back from now (30s, 10m, 2h, 1d) or an ISO 8601 time "
        "(default: 10m)",
    )
    parser.add_argument(
        "--until", metavar="WHEN", help="end, like --since (default: now; not with --follow)"
    )
    parser.add_argument(
        "--follow", action="store_true", help="keep printing new lines until Ctrl-C"
    )


def run(args, ctx):
    if args.follow and args.until:
        raise OpsError("logs: --until cannot be combined with --follow")
    now = ctx.wall()
    start = to_epoch_ms(args.since, now, "--since")
    end = to_epoch_ms(args.until, now, "--until") if args.until else None
    if end is not None and end < start:
        raise OpsError("logs: --until is before --since")
    group = log_group(ctx, args.stage)
    pattern = f'"{args.request_id}"' if args.request_id else None
    client = ctx.client("logs")
    if not args.follow:
        count = 0
        for event in logs.events(client, group, start, end, pattern):
            ctx.say(logs.line(event))
            count += 1
        if count == 0:
            ctx.warn(f"logs: no lines in {group} for that range" + (" and id" if pattern else ""))
        return 0
    ctx.warn(f"logs: following {group} (Ctrl-C stops)")
    try:
        for event in logs.follow(ctx, client, group, start, pattern):
            ctx.say(logs.line(event))
    except KeyboardInterrupt:
        pass  # the normal end of --follow
    return 0


def log_group(ctx, stage):
    name = stages.stack_name(stage, "api")
    (function,) = require(stack_outputs(ctx, name), name, "FunctionName")
    return f"/aws/lambda/{function}"


def to_epoch_ms(text, now, option):
    """Milliseconds since the epoch for ``10m`` (ago) or an ISO 8601 time (UTC if no zone)."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        return int((now - int(match.group(1)) * _SECONDS[match.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise OpsError(
            f"logs: {option} must be a duration (30s, 10m, 2h, 1d) or an ISO 8601 time, "
            f"not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)
