"""smoke against real HTTP servers on 127.0.0.1.

Two kinds: a scripted ``http.server`` for the retry and mismatch cases (it answers what each test
tells it, e.g. 503 twice then 200), and the real Chalice app on the real test database, served by
chalice's own local server (``chalice local``'s LocalDevServer) in a thread.
"""

import http.server
import json
import threading

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer

from app import create_app
from ops.cli import main
from ops.commands.smoke import smoke
from ops.http import get as http_get
from tests.support.aws import make_context
from tests.support.tcpproxy import free_port

KNOWN = {"name": "Smokey", "owner": "pets-pipeline", "species": "canary"}  # smoke's default
NOT_FOUND = {"code": "NotFound", "message": "No pet has that name."}


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from ``script``: a list of (status, body, headers) per pet, consumed in order."""

    script: dict = {}
    seen: list = []

    def do_GET(self):
        type(self).seen.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        answers = self.script.get(name) or self.script["*"]
        status, body, headers = answers.pop(0) if len(answers) > 1 else answers[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # keep the test output clean


@pytest.fixture
def scripted():
    def start(script):
        handler = type("Handler", (Scripted,), {"script": script, "seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/stage/", handler

    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def healthy():
    return {"Smokey": [(200, KNOWN, {})], "*": [(404, NOT_FOUND, {})]}


def test_a_healthy_api_passes_and_prints_latency(scripted):
    url, handler = scripted(healthy())
    ctx = make_context()
    assert main(["smoke", "--url", url], ctx) == 0
    out = ctx.out.getvalue()
    assert f"smoke: GET {url}api/pet/Smokey -> 200 in " in out
    assert " ms (ok)" in out
    assert "-> 404 in " in out
    assert out.rstrip().endswith("smoke: passed")
    assert handler.seen[0] == "/stage/api/pet/Smokey"
    assert handler.seen[1].startswith("/stage/api/pet/no-such-pet-")


def test_503_is_retried_with_backoff_until_the_database_answers(scripted):
    resuming = (503, {"code": "ServiceUnavailable"}, {"Retry-After": "3"})
    script = healthy()
    script["Smokey"] = [resuming, resuming, resuming, (200, KNOWN, {})]
    url, handler = scripted(script)
    ctx = make_context()
    assert smoke(ctx, url, KNOWN) == []
    assert ctx.sleeps == [3, 3, 4]  # max(backoff 1, 2, 4; Retry-After 3)
    assert handler.seen.count("/stage/api/pet/Smokey") == 4
    assert "database resuming?" in ctx.out.getvalue()


def test_503_for_longer_than_the_budget_fails(scripted):
    script = healthy()
    script["Smokey"] = [(503, {"code": "ServiceUnavailable"}, {})]
    url, _ = scripted(script)
    ctx = make_context()
    problems = smoke(ctx, url, KNOWN, max_wait=60)
    assert len(problems) == 1 and "answered 503, expected 200" in problems[0]
    assert sum(ctx.sleeps) <= 60
    assert ctx.sleeps[:6] == [1, 2, 4, 8, 16, 16]


def test_wrong_body_and_wrong_status_both_fail_with_exit_1(scripted):
    script = {
        "Smokey": [(200, {**KNOWN, "owner": "Someone"}, {})],
        "*": [(200, KNOWN, {})],  # the unknown pet answering 200 is wrong too
    }
    url, _ = scripted(script)
    ctx = make_context()
    assert main(["smoke", "--url", url], ctx) == 1
    err = ctx.err.getvalue()
    assert err.count("\n") == 1
    assert err.startswith("smoke: 2 check(s) failed:")
    assert '"owner": "Someone"' in err
    assert "answered 200, expected 404" in err


def test_an_unreachable_api_is_one_line():
    ctx = make_context()
    code = main(["smoke", "--url", f"http://127.0.0.1:{free_port()}/"], ctx)
    assert code == 1
    assert ctx.err.getvalue().startswith("smoke: cannot reach http://127.0.0.1:")


@pytest.fixture
def chalice_local(pets_db):
    """The real app on the real test database, served by chalice's local dev server."""
    port = free_port()
    server = LocalDevServer(create_app(settings=pets_db), Config(), "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    thread.join(timeout=5)


def test_smoke_passes_against_the_real_app(chalice_local):
    ctx = make_context()
    assert main(["smoke", "--url", chalice_local], ctx) == 0, ctx.err.getvalue()
    assert "smoke: passed" in ctx.out.getvalue()


def test_smoke_fails_against_the_real_app_when_the_body_differs(chalice_local):
    ctx = make_context()
    code = main(["smoke", "--url", chalice_local, "--pet", "Rex", "--owner", "Nobody"], ctx)
    assert code == 1
    assert '"owner": "Ana"' in ctx.err.getvalue()


def test_requests_go_through_the_context_fetch(chalice_local):
    calls = []

    def recording(url, **options):
        calls.append(url)
        return http_get(url, **options)

    expected = {"name": "Rex", "owner": "Ana", "species": "dog"}
    assert smoke(make_context(fetch=recording), chalice_local, expected) == []
    assert [url.rsplit("/", 1)[-1].startswith(("Rex", "no-such-pet-")) for url in calls] == [
        True,
        True,
    ]
