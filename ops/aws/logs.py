"""Reading a CloudWatch Logs group: the events in a time range, or new ones as they come.

``FilterLogEvents`` reads every stream of the group, interleaved by time, with an optional
filter pattern (a quoted term such as ``"<request id>"`` matches lines that contain it). Pages
are followed through ``nextToken``. Following polls the same call from the newest timestamp
seen; events at that same millisecond are read again, so they are told apart by ``eventId``.
"""

import datetime as dt

from ops.aws.errors import error_code
from ops.errors import OpsError

FOLLOW_POLL_SECONDS = 2


def events(logs, group, start_ms, end_ms=None, pattern=None):
    """Yield the events of ``group`` from ``start_ms`` to ``end_ms`` (epoch ms), oldest first."""
    request = {"logGroupName": group, "startTime": start_ms}
    if end_ms is not None:
        request["endTime"] = end_ms
    if pattern:
        request["filterPattern"] = pattern
    while True:
        try:
            page = logs.filter_log_events(**request)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise OpsError(
                    f"log group {group} does not exist yet: the function has not logged anything"
                ) from exc
            raise
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return
        request["nextToken"] = token


def follow(ctx, logs, group, start_ms, pattern=None, poll=FOLLOW_POLL_SECONDS):
    """Yield events as they arrive, forever (the caller stops on Ctrl-C)."""
    seen = {}  # eventId -> timestamp, kept only for the newest millisecond
    newest = start_ms
    while True:
        for event in events(logs, group, newest, pattern=pattern):
            if event["eventId"] not in seen:
                seen[event["eventId"]] = event["timestamp"]
                yield event
        newest = max([newest, *seen.values()])
        seen = {event_id: ts for event_id, ts in seen.items() if ts >= newest}
        ctx.sleep(poll)


def line(event):
    """``2026-11-27T23:00:00.123Z  <message>``: UTC, to the millisecond."""
    when = dt.datetime.fromtimestamp(event["timestamp"] / 1000, tz=dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return f"{stamp}  {event['message'].rstrip()}"
