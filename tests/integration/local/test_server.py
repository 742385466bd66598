"""``make run``'s HTTP server answers as API Gateway in front of the API does (real process,
real sockets): unknown paths and empty names are the API's 404, unroutable methods its 405,
HEAD has no body, and every answer carries the API's headers."""

import http.client
import json
import os

import pytest

from ops.local.processes import ApiServer
from tests.support.db import db_env
from tests.support.processes import ROOT
from tests.support.tcpproxy import free_port


@pytest.fixture(scope="module")
def port(pets_db):
    server = ApiServer(free_port(), {**os.environ, **db_env(pets_db, LOG_LEVEL="WARNING")}, ROOT)
    server.start()
    yield server.port
    server.stop()


def request(conn, method, path, body=None):
    conn.request(method, path, body=body)
    response = conn.getresponse()
    return response, response.read()


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/api/pet", "/api/pet/", "/api/pet/Fluffy/extra", "/api/pet//"]
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "TRACE"])
def test_a_path_with_no_route_is_the_apis_404(port, method, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    response, body = request(conn, method, path)
    assert response.status == 404
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Cache-Control") == "no-store"
    if method == "HEAD":
        assert body == b""
    else:
        assert json.loads(body)["code"] == "NotFound"


@pytest.mark.parametrize("method", ["TRACE", "BREW"])
def test_a_method_chalice_cannot_route_is_the_apis_405(port, method):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    response, body = request(conn, method, "/api/pet/Fluffy")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert response.getheader("Cache-Control") == "no-store"
    assert json.loads(body)["code"] == "MethodNotAllowed"


def test_head_has_the_headers_of_get_and_no_body(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    got, got_body = request(conn, "GET", "/api/pet/Fluffy")
    head, head_body = request(conn, "HEAD", "/api/pet/Fluffy")
    assert (got.status, head.status) == (200, 200)
    assert json.loads(got_body)["name"] == "Fluffy"
    assert head_body == b""
    for name in ("Content-Type", "X-Content-Type-Options", "Cache-Control"):
        assert head.getheader(name) == got.getheader(name), name
    # Nothing was sent after the headers: the same connection answers the next request.
    again, again_body = request(conn, "GET", "/api/pet/Rex")
    assert again.status == 200 and json.loads(again_body)["name"] == "Rex"


def test_a_request_body_sent_to_a_missing_path_does_not_spill_into_the_next(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    response, _ = request(conn, "POST", "/nope", body=b"GET /api/pet/Rex HTTP/1.1\r\n\r\n")
    assert response.status == 404
    after, body = request(conn, "GET", "/api/pet/Fluffy")
    assert after.status == 200 and json.loads(body)["name"] == "Fluffy"
