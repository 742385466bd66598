"""``python -m ops run`` (make run) end to end: real processes, real ports, real signals.

Each test starts ``ops run`` in a session of its own, as a terminal would, and then does what an
operator does: Ctrl-C (SIGINT to the whole group), ``kill`` (SIGTERM to the one process), closing
the terminal (SIGHUP), ``kill -9``; or gets the port or the database wrong.
"""

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from ops.errors import OpsError
from ops.local.mariadb import find_binary
from ops.local.ports import reachable
from ops.local.processes import ApiServer
from tests.support.db import db_env, scratch_database
from tests.support.processes import ROOT, finish, start_run, wait_ready
from tests.support.tcpproxy import SilentServer, free_port, speaks_postgresql, speaks_redis

# PrivateServer needs the server and its install tool; GitHub's Ubuntu runners have MySQL 8.0's
# mysqld but no mysql_install_db, so checking the server alone would fail there, not skip.
needs_mariadb = pytest.mark.skipif(
    not (
        find_binary("mariadbd", "mysqld") and find_binary("mariadb-install-db", "mysql_install_db")
    ),
    reason="no MariaDB server and install tool here",
)
STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 -- local test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_closed(port, timeout=30):
    """True once nothing listens on 127.0.0.1:port any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not reachable("127.0.0.1", port, timeout=0.5):
            return True
        time.sleep(0.2)
    return False


def private_env(localdb, db_port):
    return {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(db_port),
        "DB_USER": "root",
        "DB_PASSWORD": "",
        "DB_NAME": "pets",
        "PETS_LOCALDB_DIR": str(localdb),
    }


@pytest.fixture(scope="module")
def localdb(tmp_path_factory):
    """One private data folder for the module: initialised once, started by each test."""
    return tmp_path_factory.mktemp("localdb")


def test_make_run_serves_sample_pets_says_which_database_and_stops_on_ctrl_c(server_settings):
    port = free_port()
    with scratch_database(server_settings) as settings:
        process = start_run(db_env(settings), port)
        try:
            lines = wait_ready(process)
            using = [line for line in lines if line.startswith("run: using ")]
            assert len(using) == 1
            assert f"at 127.0.0.1:{settings.port}, database {settings.database}:" in using[0]
            assert "not started by this run (left running)" in using[0]
            assert any("applying 0001_create_pet.sql" in line for line in lines)
            assert f"curl -i http://127.0.0.1:{port}/api/pet/Fluffy" in lines[-1]
            status, body = http_get(f"http://127.0.0.1:{port}/api/pet/Fluffy")
            assert (status, body) == (200, {"name": "Fluffy", "owner": "Harold", "species": "cat"})
            assert http_get(f"http://127.0.0.1:{port}/api/pet/Zo%C3%AB")[0] == 200
            assert http_get(f"http://127.0.0.1:{port}/api/pet/Nobody")[0] == 404
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the group
            output = finish(process)
        assert process.returncode == 0
        assert "run: stopping (SIGINT)" in output
    assert wait_closed(port, timeout=5)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_to_make_run_alone_stops_its_api_server(server_settings, sig):
    port = free_port()
    with scratch_database(server_settings) as settings:
        process = start_run(db_env(settings, LOG_LEVEL="WARNING"), port)
        try:
            wait_ready(process)
        finally:
            process.send_signal(sig)  # to this one process: kill, a process manager
            output = finish(process)
    assert process.returncode == 0, output
    assert f"run: stopping ({sig.name})" in output
    assert "run: stopped the API server" in output
    assert wait_closed(port, timeout=5), "the API server outlived make run"


@needs_mariadb
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_stops_the_private_mariadb_too(localdb, sig):
    db_port, http_port = free_port(), free_port()
    process = start_run(private_env(localdb, db_port), http_port)
    try:
        lines = wait_ready(process, timeout=120)
        using = next(line for line in lines if line.startswith("run: using "))
        assert f"at 127.0.0.1:{db_port}, database pets: a private MariaDB started by this run" in (
            using
        )
        assert http_get(f"http://127.0.0.1:{http_port}/api/pet/Fluffy")[0] == 200
    finally:
        process.send_signal(sig)
        output = finish(process)
    assert process.returncode == 0, output
    assert "run: stopped the private MariaDB" in output
    assert wait_closed(db_port), "the private MariaDB outlived make run"
    assert wait_closed(http_port, timeout=5)


@needs_mariadb
def test_private_mariadb_ownership_across_runs(localdb):
    """Another live run's server is used and named; a dead run's server is stopped and replaced;
    the API server of a run killed with SIGKILL stops by itself."""
    db_port = free_port()
    env = private_env(localdb, db_port)
    first_port, second_port, third_port = free_port(), free_port(), free_port()
    first = start_run(env, first_port)
    try:
        wait_ready(first, timeout=120)

        # A second run on the same DB_PORT uses the first run's server, says so, leaves it up.
        second = start_run(env, second_port)
        try:
            using = next(line for line in wait_ready(second) if line.startswith("run: using "))
        finally:
            second.send_signal(signal.SIGTERM)
            output = finish(second)
        assert f"the private MariaDB of another make run (pid {first.pid})" in using
        assert "stopped the private MariaDB" not in output
        assert reachable("127.0.0.1", db_port)

        # kill -9: the run cannot clean up. Its API server notices and stops on its own ...
        first.send_signal(signal.SIGKILL)
        finish(first)
        assert wait_closed(first_port, timeout=10), "the API server outlived a killed make run"
        assert reachable("127.0.0.1", db_port)  # ... but its MariaDB is left running.
    finally:
        if first.poll() is None:
            first.kill()
            finish(first)

    # The next run says so, stops the leftover and starts (and later stops) its own.
    third = start_run(env, third_port)
    try:
        lines = wait_ready(third, timeout=120)
    finally:
        third.send_signal(signal.SIGTERM)
        output = finish(third)
    leftover = [line for line in lines if "left running by an earlier make run" in line]
    assert len(leftover) == 1 and leftover[0].endswith("; stopping it\n")
    assert any("a private MariaDB started by this run" in line for line in lines)
    assert "run: stopped the private MariaDB" in output
    assert wait_closed(db_port)


def test_a_busy_port_fails_in_one_line_before_any_ready_line(server_settings):
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with scratch_database(server_settings) as settings:
            process = start_run(db_env(settings), port)
            output = finish(process)
    finally:
        holder.close()
    assert process.returncode == 1
    assert output.splitlines() == [
        f"run: port {port} on 127.0.0.1 is already in use by another program: stop it, or "
        f"choose another port (PORT={port + 1} make run)"
    ]


def test_a_port_taken_after_the_check_is_still_one_line(tmp_path):
    # The server binds again for real; a program that took the port in between is reported
    # by the server itself, through its readiness pipe, and no ready line follows.
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    server = ApiServer(port, dict(os.environ), ROOT)
    try:
        with pytest.raises(OpsError) as raised:
            server.start()
    finally:
        holder.close()
    assert str(raised.value) == (
        f"run: port {port} on 127.0.0.1 is already in use by another program: stop it, or "
        f"choose another port (PORT={port + 1} make run)"
    )
    assert server.process.poll() is not None


def test_a_silent_database_port_fails_in_one_line_within_five_seconds():
    silent = SilentServer()
    try:
        started = time.monotonic()
        process = start_run({"DB_HOST": "127.0.0.1", "DB_PORT": str(silent.port)}, free_port())
        output = finish(process)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert process.returncode == 1
    assert output.splitlines() == [
        f"run: 127.0.0.1:{silent.port} accepted a connection but sent no MySQL greeting within "
        "5 s: is a MySQL/MariaDB server listening there? (check DB_HOST and DB_PORT)"
    ]
    assert elapsed < 5 + 3  # the timeout, plus starting Python


@pytest.mark.parametrize(
    ("port", "speaks"),
    [(6379, speaks_redis), (5432, speaks_postgresql)],
    ids=["redis", "postgresql"],
)
def test_another_database_on_db_port_fails_in_one_line(port, speaks):
    if not speaks(port):
        pytest.skip(f"nothing that speaks this protocol on 127.0.0.1:{port} here")
    started = time.monotonic()
    process = start_run({"DB_HOST": "127.0.0.1", "DB_PORT": str(port)}, free_port())
    output = finish(process)
    assert process.returncode == 1
    assert len(output.splitlines()) == 1
    assert output.startswith(f"run: 127.0.0.1:{port} accepted a connection but sent no MySQL")
    assert time.monotonic() - started < 5 + 3


def test_unreachable_remote_database_is_one_line_error():
    # .invalid never resolves (RFC 6761): no packet leaves this machine.
    process = start_run({"DB_HOST": "db.invalid", "DB_PORT": "3306"}, free_port())
    output = finish(process)
    assert process.returncode == 1
    assert output.strip() == "run: cannot reach the database at db.invalid:3306"
