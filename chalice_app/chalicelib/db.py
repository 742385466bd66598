"""One database connection per warm Lambda container: opened lazily, reused, replaced when dropped.

Why not ``ping()`` before each query: it is a second round trip on every request. Instead a query
runs on the connection as it is; if that connection was reused and fails at once (the server
closed it: ``KILL``, ``wait_timeout``, a restart), it is replaced and the query runs once more.
A failure that took time (a hanging server) is not retried, so an unavailable database answers
within ``connect_timeout + read_timeout`` (2 s + 2 s by default), well inside the API's 5 s.

Every failure to reach or use the database is raised as ``Unavailable``, whose message is safe
to log; the caller turns it into a 503.
"""

import contextlib
import logging
import time

import pymysql

from .credentials import CredentialsError, get_credentials
from .tls import ssl_options

log = logging.getLogger(__name__)

# A reused connection that fails faster than this was closed by the server, not left hanging.
_STALE_FAILURE_SECONDS = 1.0


class Unavailable(RuntimeError):
    """The database could not answer. The message names no host, user or SQL."""


class Database:
    """A lazily opened connection and the one retry policy around it.

    ``connect`` opens a new DB-API connection; it is injected so tests and benchmarks can count
    connections or point at a private server. ``clock`` is ``time.monotonic`` outside tests.
    """

    def __init__(self, connect, clock=time.monotonic):
        self._connect = connect
        self._clock = clock
        self._conn = None
        self.connections_opened = 0

    def fetch_one(self, sql, args):
        """Run one read-only, parameterized query and return its first row, or ``None``."""
        reused = self._conn is not None
        started = self._clock()
        try:
            return self._fetch_one(sql, args)
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
            self.close()
            if not (reused and self._clock() - started < _STALE_FAILURE_SECONDS):
                raise Unavailable(_describe(exc)) from exc
            log.info("database connection was closed by the server; reconnecting")
        try:
            return self._fetch_one(sql, args)
        except pymysql.err.MySQLError as exc:
            self.close()
            raise Unavailable(_describe(exc)) from exc

    def _fetch_one(self, sql, args):
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError):
                raise  # a connection failure like any other: the caller decides
            except pymysql.err.MySQLError as exc:
                # A protocol or programming error while connecting (a bad DB_NAME, a garbled
                # packet): not worth a retry, and still never a 500.
                raise Unavailable(_describe(exc)) from exc
            except CredentialsError as exc:
                raise Unavailable(f"no database credentials: {exc}") from exc
            except Exception as exc:
                # Opening a connection reads an AWS secret and fetches and loads TLS files: any
                # failure there means "cannot connect", and must be a 503, never a 500.
                raise Unavailable(f"cannot open a connection: {type(exc).__name__}") from exc
            self.connections_opened += 1
        try:
            with self._conn.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchone()
        except pymysql.err.MySQLError as exc:
            if not isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError)):
                # Not a connection problem (a bug or a schema mismatch): still never a 500.
                raise Unavailable(_describe(exc)) from exc
            raise

    def close(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a broken socket can fail in many ways; the connection is gone either way.
            with contextlib.suppress(Exception):
                conn.close()


def _describe(exc):
    # The error class and MySQL error code only: driver messages can carry host names and SQL.
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return f"{type(exc).__name__}({code})" if code is not None else type(exc).__name__


def connector(settings, session_factory=None, autocommit=True):
    """Return a function that opens a new connection as ``settings`` describe.

    The API reads with ``autocommit``; the migration runner (yoyo) manages its own transactions.
    """

    def connect():
        user, password = get_credentials(settings, session_factory)
        ssl = ssl_options(settings, session_factory)
        return open_connection(
            host=settings.host,
            port=settings.port,
            user=user,
            password=password,
            database=settings.database,
            charset="utf8mb4",
            # Autocommit: otherwise the first SELECT opens a transaction whose snapshot a
            # long-lived connection would keep reading from, missing every later change.
            autocommit=autocommit,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            write_timeout=settings.read_timeout,
            ssl=ssl,
            # TLS is verified against DB_SSL_CA whenever it is set (always in AWS). Without it,
            # pymysql >= 1.2 tries TLS anyway, unverified, after building a default context that
            # loads the system CA store: ~17 ms of every cold start (docs/performance.md). A
            # password login with no CA is the local development server: plain TCP there.
            # IAM and Secrets Manager logins keep pymysql's default (IAM auth needs TLS).
            ssl_disabled=settings.auth == "password" and not settings.ssl_ca,
        )

    return connect


def open_connection(*, connect_timeout, read_timeout, **options):
    """``pymysql.connect``, with the server's greeting bounded by ``connect_timeout``.

    pymysql reads the greeting (and the login's answer) with the read timeout, so a long read
    timeout (a migration's, an admin session's) would let a port that accepts TCP but never
    speaks MySQL (Redis, PostgreSQL, a hung server) hold the client that long, or forever with
    none. Here the greeting gets at most the connect timeout, and ``read_timeout`` (``None``: no
    limit) applies from the first query on.
    """
    greeting = connect_timeout if read_timeout is None else min(connect_timeout, read_timeout)
    conn = pymysql.connect(connect_timeout=connect_timeout, read_timeout=greeting, **options)
    if read_timeout != greeting:
        # pymysql has no setter; it applies _read_timeout to the socket before each read.
        conn._read_timeout = read_timeout
    return conn
