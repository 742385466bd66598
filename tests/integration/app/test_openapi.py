"""docs/openapi.yaml: in step with the Chalice routes, and honoured by the running API.

schemathesis generates requests from the document (valid and invalid names, other methods) and
checks every answer against it, against `chalice local` serving a real, migrated database.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from chalice.deploy.swagger import SwaggerGenerator

from app import create_app
from tests.support.db import db_env, scratch_database
from tests.support.processes import finish, start_run, wait_ready
from tests.support.tcpproxy import free_port

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "docs" / "openapi.yaml"
ROUTE = "/api/pet/{name}"


def test_document_lists_exactly_the_routes_that_answer():
    spec = yaml.safe_load(SPEC.read_text())
    generated = SwaggerGenerator(
        "us-east-1", {"api_handler_arn": "arn:aws:lambda:us-east-1:1:function:f"}
    ).generate_swagger(create_app())
    routes = {path: set(methods) for path, methods in generated["paths"].items()}
    assert set(spec["paths"]) == set(routes) == {ROUTE}
    documented = {m.upper() for m in spec["paths"][ROUTE] if m != "parameters"}
    assert documented == {"GET", "HEAD"}
    # Every other method Chalice routes is the 405 handler, which the document describes.
    other = {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
    assert {m.upper() for m in routes[ROUTE]} == documented | other


def test_schemathesis_finds_no_failure(server_settings, tmp_path):
    port = free_port()
    with scratch_database(server_settings) as settings:
        env = db_env(settings, LOG_LEVEL="WARNING")
        server = start_run(env, port)
        try:
            wait_ready(server)
            result = subprocess.run(
                [
                    sys.executable, "-m", "schemathesis.cli", "run", str(SPEC),
                    "--url", f"http://127.0.0.1:{port}",
                    "--checks", ",".join([
                        "not_a_server_error", "status_code_conformance",
                        "content_type_conformance", "response_headers_conformance",
                        "response_schema_conformance", "negative_data_rejection",
                        "unsupported_method", "allow_header_conformance",
                    ]),
                    "--max-examples", "60", "--seed", "1", "--workers", "1",
                    "--no-color",
                ],
                cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"},
                capture_output=True, text=True, timeout=240,
            )  # fmt: skip
        finally:
            os.killpg(server.pid, signal.SIGINT)
            finish(server)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout
