"""``ops logs``: the API's log lines, by time range and request id, and --follow.

moto serves CloudFormation (the stack's FunctionName output) and CloudWatch Logs, including
FilterLogEvents with a quoted-term pattern; nothing here needs a Stubber.
"""

import json
import time

import boto3
import pytest

from ops.cli import main
from tests.support.aws import REGION, create_stack, make_context
from tests.support.clock import FakeClock

FUNCTION = "pets-dev-api-APIHandler-AbC123"
GROUP = f"/aws/lambda/{FUNCTION}"
NOW = time.time()


def ms(seconds_ago):
    return int((NOW - seconds_ago) * 1000)


def request_line(request_id, status):
    return json.dumps(
        {"level": "INFO", "message": "GET /api/pet/{name}", "request_id": request_id,
         "status": status}
    )  # fmt: skip


def put(logs, *events):
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="2026/11/27/[$LATEST]abc",
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


@pytest.fixture
def deployed(aws):
    create_stack("pets-dev-api", {"FunctionName": FUNCTION})
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="2026/11/27/[$LATEST]abc")
    put(
        logs,
        (ms(1200), request_line("old-request", 200)),  # 20 minutes ago
        (ms(300), "START RequestId: 1111-aaaa Version: $LATEST"),
        (ms(299), request_line("req-A", 200)),
        (ms(298), "END RequestId: 1111-aaaa"),
        (ms(120), request_line("req-B", 404)),
    )
    return logs


def run(*argv, clock=None):
    ctx = make_context(clock=clock or FakeClock(wall=NOW))
    code = main(["logs", *argv], ctx)
    return code, ctx.out.getvalue().splitlines(), ctx.err.getvalue().splitlines()


def test_the_last_ten_minutes_by_default_oldest_first(deployed):
    code, lines, _ = run("--stage", "dev")
    assert code == 0
    assert [line.split("  ", 1)[1] for line in lines] == [
        "START RequestId: 1111-aaaa Version: $LATEST",
        request_line("req-A", 200),
        "END RequestId: 1111-aaaa",
        request_line("req-B", 404),
    ]
    stamp = lines[0].split("  ", 1)[0]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms(300) / 1000)) in stamp
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-27T23:00:00.123Z")


def test_one_request_by_its_id(deployed):
    _, lines, _ = run("--stage", "dev", "--request-id", "req-B", "--since", "1h")
    assert [line.split("  ", 1)[1] for line in lines] == [request_line("req-B", 404)]
    _, lines, _ = run("--stage", "dev", "--request-id", "1111-aaaa")
    assert len(lines) == 2 and all("1111-aaaa" in line for line in lines)


def test_a_time_range_by_duration_or_iso_time(deployed):
    _, lines, _ = run("--stage", "dev", "--since", "30m", "--until", "10m")
    assert [line.split("  ", 1)[1] for line in lines] == [request_line("old-request", 200)]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 200))
    _, lines, _ = run("--stage", "dev", "--since", iso)
    assert [line.split("  ", 1)[1] for line in lines] == [request_line("req-B", 404)]


def test_nothing_in_range_says_so(deployed):
    code, lines, errors = run("--stage", "dev", "--request-id", "no-such-request")
    assert (code, lines) == (0, [])
    assert errors == [f"logs: no lines in {GROUP} for that range and id"]


def appending(logs):
    """A clock whose first sleep is when a new line arrives; the second is Ctrl-C."""

    def on_sleep(clock):
        if len(clock.sleeps) == 1:
            put(logs, (ms(-1), request_line("req-C", 200)))
        else:
            raise KeyboardInterrupt

    return FakeClock(wall=NOW, on_sleep=on_sleep)


def test_follow_prints_new_lines_once_until_ctrl_c(deployed):
    code, lines, errors = run("--stage", "dev", "--follow", clock=appending(deployed))
    assert code == 0
    messages = [line.split("  ", 1)[1] for line in lines]
    # The lines of the last ten minutes, then the new one; none twice, though every poll
    # reads again from the newest millisecond seen.
    assert messages[-1] == request_line("req-C", 200)
    assert len(messages) == 5 and len(set(messages)) == 5
    assert errors == [f"logs: following {GROUP} (Ctrl-C stops)"]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--since", "yesterday"], "logs: --since must be a duration (30s, 10m, 2h, 1d) or an "
         "ISO 8601 time, not 'yesterday'"),
        (["--since", "10m", "--until", "1h"], "logs: --until is before --since"),
        (["--follow", "--until", "1m"], "logs: --until cannot be combined with --follow"),
    ],
)  # fmt: skip
def test_bad_times_are_one_line(deployed, argv, error):
    code, _, errors = run("--stage", "dev", *argv)
    assert (code, errors) == (1, [error])


def test_no_api_stack_is_one_line(aws):
    code, _, errors = run("--stage", "prod")
    assert (code, errors) == (1, ["logs: stack pets-prod-api does not exist: deploy it first"])


def test_no_log_group_yet_is_one_line(aws):
    create_stack("pets-dev-api", {"FunctionName": FUNCTION})
    code, _, errors = run("--stage", "dev")
    assert code == 1
    assert errors == [
        f"logs: log group {GROUP} does not exist yet: the function has not logged anything"
    ]
