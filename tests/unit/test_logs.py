"""JSON logs: one object per line, the request id, and never a secret (no I/O)."""

import io
import json

import pytest

from app import create_app
from chalicelib import logs
from chalicelib.settings import DbSettings
from tests.support.events import LambdaContext, proxy_event


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    logs.configure("INFO", stream)
    return stream


def test_request_is_logged_as_json_with_its_request_id(log_stream):
    app = create_app(settings=DbSettings(password="hunter2-secret"))
    response = app(
        proxy_event("%FF", request_id="req-123"), LambdaContext()
    )  # invalid UTF-8: 400, no database needed
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["code"] == "BadRequest"
    entries = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    request_lines = [e for e in entries if e["logger"] == "pets.api"]
    assert request_lines[-1]["request_id"] == "req-123"
    assert request_lines[-1]["status"] == 400
    assert "hunter2-secret" not in log_stream.getvalue()


def test_lambda_response_is_api_gateway_shaped(log_stream):
    app = create_app(settings=DbSettings())
    response = app(proxy_event("x" * 21), LambdaContext())
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
