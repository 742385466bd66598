"""The API when the database misbehaves: 503 with Retry-After within 5 s, and recovery after.

The database is real; faults are made by the server itself (KILL, wait_timeout) or by a TCP
proxy in front of it that can hang or drop connections (tests/support/tcpproxy.py).

With readers (the end of this file), two proxies in front of the same server stand for the
cluster's reader endpoint (``DB_HOST``) and its writer (``DB_FALLBACK_HOST``), and warm
containers in threads look up known pets in a stream while one or both are cut: a restart or a
failover as clients see it. Every answer is checked against the known pets.
"""

import io
import itertools
import json
import threading
import time

import pymysql
import pytest
from chalice.test import Client

from app import create_app
from chalicelib import logs
from chalicelib.db import connector
from chalicelib.settings import DbSettings
from ops.db.admin import admin_connection
from tests.support.db import PETS
from tests.support.events import LambdaContext, pet_event, proxy_event
from tests.support.tcpproxy import SilentServer, TcpProxy, free_port

BUDGET_SECONDS = 5.0


def timed_get(client, path="/api/pet/Fluffy"):
    started = time.monotonic()
    response = client.http.get(path)
    return response, time.monotonic() - started


def assert_unavailable(response, elapsed):
    assert response.status_code == 503
    assert elapsed < BUDGET_SECONDS
    body = json.loads(response.body)
    assert body["code"] == "ServiceUnavailable"
    assert int(response.headers["Retry-After"]) > 0
    # Nothing internal leaks: no driver names, error codes, hosts or SQL.
    text = response.body.decode()
    for leak in ("pymysql", "Operational", "SELECT", "127.0.0.1", "Traceback", "Errno"):
        assert leak not in text


def test_refused_connection_is_503_fast(pets_db):
    settings = pets_db._replace(port=free_port())
    with Client(create_app(settings=settings)) as client:
        assert_unavailable(*timed_get(client))


def test_server_that_never_greets_is_503_within_budget(pets_db):
    silent = SilentServer()
    try:
        settings = pets_db._replace(port=silent.port)
        with Client(create_app(settings=settings)) as client:
            assert_unavailable(*timed_get(client))
    finally:
        silent.close()


def test_server_that_hangs_mid_session_is_503_within_budget(pets_db):
    proxy = TcpProxy(pets_db.host, pets_db.port)
    try:
        settings = pets_db._replace(port=proxy.port)
        app = create_app(settings=settings)
        with Client(app) as client:
            assert timed_get(client)[0].status_code == 200
            proxy.freeze()
            assert_unavailable(*timed_get(client))
            proxy.thaw()
            # The hung connection was discarded; the next request opens a fresh one.
            assert timed_get(client)[0].status_code == 200
    finally:
        proxy.close()


def test_wrong_password_is_503_without_details(pets_db):
    settings = pets_db._replace(user="nobody_here", password="wrong")
    with Client(create_app(settings=settings)) as client:
        response, elapsed = timed_get(client)
    assert_unavailable(response, elapsed)
    assert "nobody_here" not in response.body.decode()


def test_connection_killed_by_server_next_request_succeeds(pets_db):
    app = create_app(settings=pets_db)
    with Client(app) as client:
        assert client.http.get("/api/pet/Rex").status_code == 200
        thread_id = app.get_db()._conn.thread_id()
        with admin_connection(pets_db) as admin, admin.cursor() as cursor:
            cursor.execute("KILL %s", (thread_id,))
        response = client.http.get("/api/pet/Rex")
        assert response.status_code == 200
        assert json.loads(response.body)["name"] == "Rex"
    assert app.get_db().connections_opened == 2


def test_connection_past_wait_timeout_next_request_succeeds(pets_db):
    base = connector(pets_db)

    def connect_with_short_wait_timeout():
        conn = base()
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION wait_timeout = 1")
        return conn

    app = create_app(settings=pets_db, connect=connect_with_short_wait_timeout)
    with Client(app) as client:
        assert client.http.get("/api/pet/Rex").status_code == 200
        time.sleep(2.5)  # the server closes the idle connection after 1 s
        assert client.http.get("/api/pet/Rex").status_code == 200
    assert app.get_db().connections_opened == 2


def test_server_restart_is_survived_without_process_restart(pets_db):
    proxy = TcpProxy(pets_db.host, pets_db.port)
    try:
        app = create_app(settings=pets_db._replace(port=proxy.port))
        with Client(app) as client:
            assert client.http.get("/api/pet/Rex").status_code == 200
            proxy.drop_all()  # every connection gone, as in a restart
            assert client.http.get("/api/pet/Rex").status_code == 200
    finally:
        proxy.close()


def test_new_rows_are_visible_on_a_reused_connection(pets_db):
    """Autocommit: a long-lived connection must not keep reading an old snapshot."""
    app = create_app(settings=pets_db)
    with Client(app) as client:
        assert client.http.get("/api/pet/Newcomer").status_code == 404
        with admin_connection(pets_db, pets_db.database) as admin, admin.cursor() as cursor:
            cursor.execute("INSERT INTO pet VALUES ('Newcomer', 'Eve', 'owl', NULL)")
        try:
            assert client.http.get("/api/pet/Newcomer").status_code == 200
        finally:
            with admin_connection(pets_db, pets_db.database) as admin, admin.cursor() as cursor:
                cursor.execute("DELETE FROM pet WHERE name = 'Newcomer'")


def test_missing_table_is_503_not_500(empty_db):
    with Client(create_app(settings=empty_db)) as client:
        response, elapsed = timed_get(client)
    assert_unavailable(response, elapsed)


def test_unknown_database_is_503(pets_db):
    settings = pets_db._replace(database="pets_test_does_not_exist")
    with Client(create_app(settings=settings)) as client:
        assert_unavailable(*timed_get(client))


def test_unavailable_database_log_names_no_password():
    log_stream = io.StringIO()
    logs.configure("INFO", log_stream)
    settings = DbSettings(host="127.0.0.1", port=1, password="hunter2-secret")
    app = create_app(settings=settings)
    response = app(proxy_event("Rex"), LambdaContext())
    assert response["statusCode"] == 503
    text = log_stream.getvalue()
    assert "hunter2-secret" not in text
    warning = next(json.loads(line) for line in text.splitlines() if "unavailable" in line)
    assert warning["level"] == "WARNING"
    assert warning["reason"] == "OperationalError(2003)"


def test_missing_tls_ca_file_is_503_not_500(pets_db):
    settings = pets_db._replace(ssl_ca="/nonexistent/rds-ca.pem")
    with Client(create_app(settings=settings)) as client:
        assert_unavailable(*timed_get(client))


def test_aws_failure_while_connecting_is_503_not_500(pets_db):
    """Secrets Manager unreachable (here: no such secret, outside moto) must not become a 500."""

    def broken_session():
        raise RuntimeError("no route to Secrets Manager")

    settings = pets_db._replace(auth="secret", secret_arn="arn:aws:secretsmanager:x")
    app = create_app(settings=settings, connect=connector(settings, session_factory=broken_session))
    with Client(app) as client:
        assert_unavailable(*timed_get(client))


@pytest.mark.parametrize(
    "error",
    [
        pymysql.err.ProgrammingError(1102, "Incorrect database name"),
        pymysql.err.InternalError(0, "Packet sequence number wrong"),
        pymysql.err.NotSupportedError(0, "not supported"),
    ],
)
def test_any_driver_error_while_connecting_is_503(pets_db, error):
    """Errors pymysql raises while connecting that are not connection failures: still a 503."""

    def connect():
        raise error

    with Client(create_app(settings=pets_db, connect=connect)) as client:
        assert_unavailable(*timed_get(client))


# ---------------------------------------------------------------- readers, restarts, failover

KNOWN = {
    name: {"name": name, "owner": owner, "species": species} for name, owner, species, _ in PETS
}


class LookupStream:
    """``containers`` warm containers, each in its own thread, looking up known pets in a loop.

    Every answer is kept as ``(name, status, body, headers, seconds)``; ``answers_since(t)``
    gives those that started at or after ``t`` (``time.monotonic``).
    """

    def __init__(self, settings, containers=4):
        self.apps = [create_app(settings=settings) for _ in range(containers)]
        self.answers = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(app,)) for app in self.apps]

    def __enter__(self):
        logs.configure("WARNING", io.StringIO())  # thousands of request lines: not worth keeping
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, app):
        for name in itertools.cycle(KNOWN):
            if self._stop.is_set():
                return
            started = time.monotonic()
            answer = app(pet_event(name), LambdaContext())
            elapsed = time.monotonic() - started
            with self._lock:
                self.answers.append(
                    (
                        started,
                        name,
                        answer["statusCode"],
                        answer["body"],
                        answer["headers"],
                        elapsed,
                    )
                )

    def answers_since(self, moment):
        with self._lock:
            return [a[1:] for a in self.answers if a[0] >= moment]


def assert_right_or_unavailable(answers):
    """No wrong answer (every 200 is the pet asked for, never a 404 for a known pet), no 500:
    a 503 with Retry-After at worst, and every answer within the budget."""
    assert answers, "the stream made no request"
    for name, status, body, headers, elapsed in answers:
        assert elapsed < BUDGET_SECONDS, (name, status, elapsed)
        assert status in (200, 503), (name, status, body)
        if status == 200:
            assert json.loads(body) == KNOWN[name]
        else:
            assert json.loads(body)["code"] == "ServiceUnavailable"
            assert int(headers["Retry-After"]) > 0


@pytest.fixture
def reader_and_writer(pets_db):
    """Two proxies to the test server: the reader endpoint and the writer, wired as in AWS."""
    reader = TcpProxy(pets_db.host, pets_db.port)
    writer = TcpProxy(pets_db.host, pets_db.port)
    settings = pets_db._replace(
        port=reader.port, fallback_host=pets_db.host, fallback_port=writer.port
    )
    try:
        yield settings, reader, writer
    finally:
        reader.close()
        writer.close()


def test_with_readers_a_writer_restart_goes_unnoticed(reader_and_writer):
    """Aurora MySQL 2.10 and later restarts the writer without its readers: lookups carry on."""
    settings, reader, writer = reader_and_writer
    with LookupStream(settings) as stream:
        time.sleep(0.5)
        writer.cut()
        time.sleep(2.0)
        writer.restore()
        time.sleep(0.5)
    answers = stream.answers_since(0)
    assert_right_or_unavailable(answers)
    assert {status for _, status, *_ in answers} == {200}
    assert writer.accepted == 0  # reads never went to the writer


def test_failover_drill_writer_restart_and_promoted_reader_restart(reader_and_writer):
    """The drill: the writer goes down and the reader restarts while it is promoted.

    Both are cut at once (the worst case: nothing answers), the reader comes back after 1.5 s
    and the writer after 3 s. During it every answer is right or a 503 within 5 s; once both are
    back, every container answers 200 again within a second.
    """
    settings, reader, writer = reader_and_writer
    with LookupStream(settings) as stream:
        time.sleep(0.5)
        outage = time.monotonic()
        writer.cut()
        reader.cut()
        time.sleep(1.5)
        reader.restore()
        time.sleep(1.5)
        writer.restore()
        recovered = time.monotonic() + 1.0
        time.sleep(2.0)
    assert_right_or_unavailable(stream.answers_since(0))
    during = stream.answers_since(outage)
    assert any(status == 503 for _, status, *_ in during), "the drill never cut anything"
    after = stream.answers_since(recovered)
    assert len(after) >= len(stream.apps) and {status for _, status, *_ in after} == {200}


def test_a_vanished_reader_is_read_around_without_an_error(reader_and_writer):
    settings, reader, writer = reader_and_writer
    with LookupStream(settings) as stream:
        time.sleep(0.5)
        reader.cut()  # deleted or failed: refused from now on
        time.sleep(1.5)
    answers = stream.answers_since(0)
    assert_right_or_unavailable(answers)
    assert {status for _, status, *_ in answers} == {200}
    assert writer.accepted >= 1


def test_a_hanging_reader_costs_each_container_at_most_one_503(reader_and_writer):
    settings, reader, writer = reader_and_writer
    with LookupStream(settings, containers=3) as stream:
        time.sleep(0.5)
        reader.freeze()  # a reader that stops answering (overloaded, lagging far behind)
        time.sleep(4.0)
    answers = stream.answers_since(0)
    assert_right_or_unavailable(answers)
    assert sum(status == 503 for _, status, *_ in answers) <= len(stream.apps)
    assert answers[-1][1] == 200 and writer.accepted >= 1
