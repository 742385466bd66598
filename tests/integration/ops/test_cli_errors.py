"""The real CLI (``python -m ops`` in a subprocess): expected failures are one line, no traceback.

Access denied and the stubbed throttling case are in test_stack_deploy_stubbed.py (Stubber needs
the client in-process). Here throttling is real: a local HTTP server answers every request with
CloudFormation's Throttling error, and botocore's standard retry mode must try exactly
AWS_MAX_ATTEMPTS times before the one-line error. And a black hole is real: a socket that accepts
and never answers, which must fail within a minute with the default settings.
"""

import http.server
import os
import threading
import time

import pytest

from tests.support.cfn import QUEUE_TEMPLATE, write
from tests.support.processes import assert_one_line_error, run_cli
from tests.support.tcpproxy import SilentServer


def deploy_args(template, *extra):
    return ["stack-deploy", "--stack-name", "cli-errors", "--template-file", template, *extra]


def test_no_credentials(tmp_path, server_env):
    env = {k: v for k, v in server_env.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET"))}
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_SECURITY_TOKEN", None)
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    result = run_cli(*deploy_args(template), env=env)
    assert_one_line_error(result, "stack-deploy: no AWS credentials found")


def test_unknown_profile(tmp_path, server_env):
    env = {**server_env, "AWS_PROFILE": "nobody", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    result = run_cli(*deploy_args(template), env=env)
    assert_one_line_error(result, "AWS profile not found: 'nobody'")


def test_missing_template(tmp_path, server_env):
    result = run_cli(*deploy_args(tmp_path / "absent.yaml"), env=server_env)
    assert_one_line_error(result, "stack-deploy: no template file at", "absent.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Resources:\n  Queue:\n    Type: [unclosed\n", "line 4"),
        ("Description: nothing to build\n", "it has no Resources section"),
        ('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"},}}', "line 1"),
        ("Resources:\n  Queue:\n    Properties: {}\n", "resource Queue has no Type"),
    ],
)
def test_invalid_template(tmp_path, server_env, text, expected):
    template = write(tmp_path, "bad.yaml", text)
    result = run_cli(*deploy_args(template), env=server_env)
    assert_one_line_error(result, "stack-deploy: invalid template", expected)


def test_missing_parameter(tmp_path, server_env):
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    result = run_cli(*deploy_args(template), env=server_env)
    assert_one_line_error(
        result, "stack-deploy: missing parameter: QueueName", "--parameter-overrides QueueName="
    )


def test_malformed_override(tmp_path, server_env):
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    result = run_cli(*deploy_args(template, "--parameter-overrides", "QueueName"), env=server_env)
    assert_one_line_error(result, "--parameter-overrides must be Key=Value, not 'QueueName'")


THROTTLED = (
    b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
    b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class _Throttler(http.server.BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self):
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(THROTTLED)))
        self.end_headers()
        self.wfile.write(THROTTLED)

    def log_message(self, *args):
        pass  # keep the test output clean


def test_throttling_is_retried_then_one_line(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Throttler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
            "AWS_MAX_ATTEMPTS": "2",
        }
        template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
        result = run_cli(*deploy_args(template), env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(
        result, "AWS throttled DescribeStacks (Throttling)", "after 2 attempt(s)", "standard"
    )
    assert _Throttler.requests == 2  # standard mode, AWS_MAX_ATTEMPTS=2: one try, one retry


def test_an_endpoint_that_never_answers_fails_in_one_line_within_a_minute(tmp_path):
    silent = SilentServer()
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE")}
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{silent.port}"
    template = write(tmp_path, "q.yaml", QUEUE_TEMPLATE)
    started = time.monotonic()
    try:
        result = run_cli(*deploy_args(template), env=env, timeout=90)
    finally:
        attempts = silent.connections
        silent.close()
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    *progress, error = result.stderr.strip().splitlines()
    assert error == (
        f"stack-deploy: AWS did not answer at http://127.0.0.1:{silent.port}/ within 15 s, in "
        "any attempt (check the network, a proxy, and AWS_ENDPOINT_URL)"
    )
    # Each attempt that timed out said so while the operator waited: standard mode, 3 attempts.
    assert progress == [
        f"ops: DescribeStacks: no answer within 15 s (attempt {n} of 3)" for n in (1, 2, 3)
    ]
    assert attempts == 3
