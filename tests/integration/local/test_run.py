"""``python -m ops run`` (make run) end to end: a real server process, real HTTP, Ctrl-C."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ops.local.mariadb import find_binary
from tests.support.db import db_env, scratch_database
from tests.support.tcpproxy import free_port

ROOT = Path(__file__).resolve().parents[3]


def start_run(env_extra, port):
    env = {**os.environ, "PORT": str(port), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "ops", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_ready(process, timeout=90):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ready on" in line:
            return lines
    pytest.fail("ops run never became ready:\n" + "".join(lines))


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 -- local test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def interrupt(process):
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group."""
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


def test_make_run_serves_sample_pets_and_stops_on_ctrl_c(server_settings):
    port = free_port()
    with scratch_database(server_settings) as settings:
        env = db_env(settings)
        process = start_run(env, port)
        try:
            lines = wait_ready(process)
            assert any("applying 0001_create_pet.sql" in line for line in lines)
            assert f"curl -i http://127.0.0.1:{port}/api/pet/Fluffy" in lines[-1]
            status, body = http_get(f"http://127.0.0.1:{port}/api/pet/Fluffy")
            assert (status, body) == (200, {"name": "Fluffy", "owner": "Harold", "species": "cat"})
            assert http_get(f"http://127.0.0.1:{port}/api/pet/Zo%C3%AB")[0] == 200
            assert http_get(f"http://127.0.0.1:{port}/api/pet/Nobody")[0] == 404
        finally:
            interrupt(process)
        assert process.returncode is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/pet/Fluffy", timeout=2)


# PrivateServer needs the server and its install tool; GitHub's Ubuntu runners have MySQL 8.0's
# mysqld but no mysql_install_db, so checking the server alone would fail there, not skip.
@pytest.mark.skipif(
    not (
        find_binary("mariadbd", "mysqld") and find_binary("mariadb-install-db", "mysql_install_db")
    ),
    reason="no MariaDB server and install tool here",
)
def test_make_run_starts_a_private_mariadb_when_none_is_reachable(tmp_path):
    db_port, http_port = free_port(), free_port()
    env = {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(db_port),
        "DB_USER": "root",
        "DB_PASSWORD": "",
        "DB_NAME": "pets",
        "PETS_LOCALDB_DIR": str(tmp_path / "localdb"),
    }
    process = start_run(env, http_port)
    try:
        lines = wait_ready(process, timeout=120)
        assert any("starting a private MariaDB" in line for line in lines)
        assert http_get(f"http://127.0.0.1:{http_port}/api/pet/Fluffy")[0] == 200
    finally:
        output = interrupt(process)
    assert "stopped the private MariaDB" in output
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", db_port), timeout=1).close()
        except OSError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the private MariaDB is still listening after Ctrl-C")


def test_unreachable_remote_database_is_one_line_error():
    # .invalid never resolves (RFC 6761): no packet leaves this machine.
    process = start_run({"DB_HOST": "db.invalid", "DB_PORT": "3306"}, free_port())
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert output.strip() == "run: cannot reach the database at db.invalid:3306"
