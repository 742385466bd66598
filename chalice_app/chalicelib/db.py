"""One database connection per warm Lambda container: opened lazily, reused, replaced when dropped.

Why not ``ping()`` before each query: it is a second round trip on every request. Instead a query
runs on the connection as it is; if that connection was reused and fails at once (the server
closed it: ``KILL``, ``wait_timeout``, a restart), it is replaced and the query runs once more.

Readers: the connection goes to ``DB_HOST`` (the reader endpoint when the cluster has readers).
When that host cannot be reached, or fails in use, and a fallback is configured
(``DB_FALLBACK_HOST``: the writer), the container reads from the fallback instead for
``FALLBACK_SECONDS`` and then tries ``DB_HOST`` again. A reader that vanished costs no error at
all (a refused or reset connection fails fast, and the same request goes to the writer); one that
hangs costs one 503, after which the container is on the writer. A lookup never mistakes a
failure for "no such pet": it is an answer from a server, or ``Unavailable``.

Retries happen only while the request is young: no attempt starts after ``_STALE_FAILURE_SECONDS``,
so an unavailable database still answers within ``_STALE_FAILURE_SECONDS + connect_timeout +
read_timeout`` (1 s + 2 s + 2 s by default), inside the API's 5 s.

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

# A failure faster than this was a closed or refused connection, not a hanging server: worth
# one more attempt within the API's time budget.
_STALE_FAILURE_SECONDS = 1.0
# How long a container reads from the fallback before it tries its own host again.
FALLBACK_SECONDS = 30.0
_CONNECTION_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError)


class Unavailable(RuntimeError):
    """The database could not answer. The message names no host, user or SQL."""


class Database:
    """A lazily opened connection and the one retry policy around it.

    ``connect`` opens a new DB-API connection to the primary host (``DB_HOST``); ``fallback``,
    when given, to the host used while the primary cannot answer (``DB_FALLBACK_HOST``). Both
    are injected so tests and benchmarks can count connections or point at a private server.
    ``clock`` is ``time.monotonic`` outside tests.
    """

    def __init__(self, connect, clock=time.monotonic, fallback=None):
        self._connect = connect
        self._fallback = fallback
        self._clock = clock
        self._conn = None
        self._on_fallback = False
        # Until then, new connections go to the fallback (the primary failed at that time).
        self._primary_down_until = 0.0
        self.connections_opened = 0

    @property
    def on_fallback(self):
        """Whether the open connection (or the next one) is the fallback's."""
        return self._on_fallback if self._conn is not None else self._primary_is_down()

    def fetch_one(self, sql, args):
        """Run one read-only, parameterized query and return its first row, or ``None``."""
        started = self._clock()
        if self._on_fallback and started >= self._primary_down_until:
            self.close()  # time to go back to the primary
        while True:
            reused = self._conn is not None
            try:
                return self._fetch_one(sql, args)
            except _CONNECTION_ERRORS as exc:
                failed_on_fallback = self._on_fallback
                self.close()
                now = self._clock()
                young = now - started < _STALE_FAILURE_SECONDS
                # A reused connection that fails at once was closed by the server while idle;
                # anything else (refused, reset on a new connection, a hang) is the host's fault.
                if reused and young:
                    log.info("database connection was closed by the server; reconnecting")
                    continue
                if self._fallback is None or failed_on_fallback:
                    raise Unavailable(_describe(exc)) from exc
                self._primary_down_until = now + FALLBACK_SECONDS
                if not young:
                    raise Unavailable(_describe(exc)) from exc
                log.warning(
                    "database host unavailable; reading from the fallback",
                    extra={"fields": {"reason": _describe(exc)}},
                )

    def _primary_is_down(self):
        return self._fallback is not None and self._clock() < self._primary_down_until

    def _fetch_one(self, sql, args):
        if self._conn is None:
            on_fallback = self._primary_is_down()
            connect = self._fallback if on_fallback else self._connect
            try:
                self._conn = connect()
            except _CONNECTION_ERRORS:
                self._on_fallback = on_fallback
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
            self._on_fallback = on_fallback
            self.connections_opened += 1
        try:
            with self._conn.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchone()
        except pymysql.err.MySQLError as exc:
            if not isinstance(exc, _CONNECTION_ERRORS):
                # Not a connection problem (a bug or a schema mismatch): still never a 500.
                raise Unavailable(_describe(exc)) from exc
            raise

    def close(self):
        conn, self._conn = self._conn, None
        self._on_fallback = False
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


def database(settings, session_factory=None):
    """The ``Database`` that ``settings`` describe: ``DB_HOST``, and the fallback if one is set."""
    fallback = settings.fallback()
    return Database(
        connector(settings, session_factory),
        fallback=connector(fallback, session_factory) if fallback else None,
    )
