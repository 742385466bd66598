"""The connection policy with a reader and a fallback (the writer), on stand-in connections.

No I/O: each "host" is a function that opens a stand-in connection or raises what pymysql raises
when a server refuses, resets or hangs; the clock is a fake one the stand-ins advance, so "a hang"
is two seconds that pass without sleeping. The real servers, a TCP proxy cut in front of them and
the API's answers are in tests/integration/app/test_faults.py.
"""

import pymysql
import pytest

from chalicelib.db import FALLBACK_SECONDS, Database, Unavailable
from tests.support.clock import FakeClock

REFUSED = pymysql.err.OperationalError(2003, "Can't connect")
LOST = pymysql.err.OperationalError(2013, "Lost connection")


class Host:
    """Opens connections that answer with ``row``; ``fail`` makes it refuse (or hang first)."""

    def __init__(self, clock, row):
        self.clock = clock
        self.row = row
        self.opened = 0
        self.refuse = False
        self.hang_seconds = 0.0  # a connect that takes this long, then fails
        self.conns = []

    def connect(self):
        if self.hang_seconds:
            self.clock.advance(self.hang_seconds)
            raise LOST
        if self.refuse:
            raise REFUSED
        self.opened += 1
        conn = Conn(self)
        self.conns.append(conn)
        return conn


class Conn:
    def __init__(self, host):
        self.host = host
        self.dropped = False

    def cursor(self):
        return Cursor(self)

    def close(self):
        pass


class Cursor:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args):
        if self.conn.dropped:
            raise LOST

    def fetchone(self):
        return self.conn.host.row


@pytest.fixture
def world():
    clock = FakeClock()
    reader = Host(clock, ("from the reader",))
    writer = Host(clock, ("from the writer",))
    db = Database(reader.connect, clock=clock.monotonic, fallback=writer.connect)
    return clock, reader, writer, db


def fetch(db):
    return db.fetch_one("SELECT 1", ())


def test_lookups_use_the_reader_and_one_connection(world):
    _, reader, writer, db = world
    assert [fetch(db) for _ in range(3)] == [("from the reader",)] * 3
    assert (reader.opened, writer.opened, db.connections_opened) == (1, 0, 1)


def test_a_vanished_reader_costs_no_error_the_same_request_reads_the_writer(world):
    _, reader, writer, db = world
    fetch(db)
    reader.conns[0].dropped = True  # the reader went away: its connection is reset ...
    reader.refuse = True  # ... and it refuses new ones
    assert fetch(db) == ("from the writer",)
    assert writer.opened == 1


def test_the_container_stays_on_the_writer_then_goes_back_to_the_reader(world):
    clock, reader, writer, db = world
    reader.refuse = True
    assert fetch(db) == ("from the writer",)
    reader.refuse = False
    clock.advance(FALLBACK_SECONDS - 1)
    assert fetch(db) == ("from the writer",)  # no flapping: still the fallback's connection
    assert reader.opened == 0
    clock.advance(2)
    assert fetch(db) == ("from the reader",)
    assert (reader.opened, writer.opened) == (1, 1)


def test_a_hanging_reader_costs_one_503_then_the_writer_answers(world):
    _, reader, writer, db = world
    reader.hang_seconds = 2.0  # connect_timeout passes
    with pytest.raises(Unavailable):
        fetch(db)
    assert writer.opened == 0  # no time left in this request's budget for another attempt
    assert fetch(db) == ("from the writer",)


def test_a_reader_connection_closed_while_idle_is_replaced_on_the_reader(world):
    """wait_timeout or KILL: the reader is fine, only that connection is gone."""
    _, reader, writer, db = world
    fetch(db)
    reader.conns[0].dropped = True
    assert fetch(db) == ("from the reader",)
    assert (reader.opened, writer.opened) == (2, 0)


def test_no_fallback_when_both_fail_503_not_500(world):
    _, reader, writer, db = world
    reader.refuse = writer.refuse = True
    with pytest.raises(Unavailable):
        fetch(db)
    assert (reader.opened, writer.opened) == (0, 0)


def test_without_a_fallback_a_refusing_host_is_unavailable_at_once():
    clock = FakeClock()
    only = Host(clock, ("row",))
    only.refuse = True
    db = Database(only.connect, clock=clock.monotonic)
    with pytest.raises(Unavailable):
        fetch(db)
    only.refuse = False
    assert fetch(db) == ("row",)  # and nothing remembers the failure


def test_a_failed_writer_is_not_abandoned_for_the_reader_it_replaced(world):
    """On the fallback, a failure is a 503: it never reaches back for the reader that failed."""
    _, reader, writer, db = world
    reader.refuse = True
    fetch(db)
    writer.refuse = True
    writer.conns[0].dropped = True
    with pytest.raises(Unavailable):
        fetch(db)
    assert reader.opened == 0
