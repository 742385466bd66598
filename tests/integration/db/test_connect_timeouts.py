"""Every connection is bounded: a port that accepts TCP but never greets fails in seconds.

pymysql reads the server's greeting with the read timeout, so a connection with a long read
timeout (a migration's) or none (an admin session's) used to wait that long, or forever, on a
silent port. The greeting now gets the connect timeout, and the read timeout still applies to
the queries after it.
"""

import time

import pymysql
import pytest

from chalicelib.db import connector
from ops.db.admin import CONNECT_TIMEOUT, connect_checked, create_database
from ops.errors import OpsError
from tests.support.tcpproxy import SilentServer


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_a_long_read_timeout_does_not_stretch_the_greeting(server_settings, silent):
    settings = server_settings._replace(port=silent.port, connect_timeout=1.0, read_timeout=60.0)
    started = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError):
        connector(settings)()
    assert time.monotonic() - started < 3


def test_the_read_timeout_still_applies_after_the_greeting(pets_db):
    # A query longer than the connect timeout succeeds: the long read timeout is back in force.
    conn = connector(pets_db._replace(connect_timeout=1.0, read_timeout=10.0))()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT SLEEP(1.5)")
            assert cursor.fetchone() == (0,)
    finally:
        conn.close()


def test_an_admin_connection_to_a_silent_port_is_one_line_within_the_timeout(
    server_settings, silent
):
    settings = server_settings._replace(port=silent.port, database="pets_test_never")
    started = time.monotonic()
    with pytest.raises(OpsError) as raised:
        create_database(settings)
    assert time.monotonic() - started < CONNECT_TIMEOUT + 2
    assert str(raised.value) == (
        f"127.0.0.1:{silent.port} accepted a connection but sent no MySQL greeting within "
        f"{CONNECT_TIMEOUT} s: is a MySQL/MariaDB server listening there? "
        "(check DB_HOST and DB_PORT)"
    )


def test_the_servers_own_refusal_is_reported_as_it_is(server_settings):
    with pytest.raises(OpsError) as raised:
        connect_checked(
            server_settings._replace(
                user="pets_test_nobody",
                password="wrong",  # pragma: allowlist secret -- a login that must fail
            )
        )
    message = str(raised.value)
    assert message.startswith(f"cannot connect to 127.0.0.1:{server_settings.port}: Access denied")
    assert "is a MySQL/MariaDB server listening" not in message
