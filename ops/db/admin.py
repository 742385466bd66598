"""Local administration of a MySQL/MariaDB server: what ``make run`` does before serving.

An admin connection logs in with the ``DB_*`` user and password as they are (a developer's
server: root with no password by default), never with IAM or Secrets Manager. Nothing here runs
in AWS; the stages' databases are changed only by the migrations, from their admin hosts.

Every admin connection is bounded: ``CONNECT_TIMEOUT`` to connect and to receive the server's
greeting (a port that accepts TCP but is not MySQL, such as Redis on 6379 or PostgreSQL on 5432,
fails in that time instead of hanging), and ``READ_TIMEOUT`` for each answer after that.
"""

import re
from pathlib import Path

import pymysql
import sqlparse

from chalicelib.db import open_connection
from ops.errors import OpsError

SAMPLE_FILE = Path(__file__).resolve().parents[2] / "sql" / "sample" / "pets.sql"
CONNECT_TIMEOUT = 5  # seconds to connect and to get the greeting
READ_TIMEOUT = 60  # seconds for any one answer (a bulk insert, dropping a big database)


def admin_connection(
    settings, database=None, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, **extra
):
    """A plain autocommit connection with the settings' user and password (local use only)."""
    return open_connection(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
        **extra,
    )


def connect_checked(settings, database=None):
    """An admin connection, or an ``OpsError`` saying in one line why there is none."""
    where = f"{settings.host}:{settings.port}"
    hint = "is a MySQL/MariaDB server listening there? (check DB_HOST and DB_PORT)"
    try:
        return admin_connection(settings, database)
    except pymysql.err.MySQLError as exc:
        if isinstance(exc.__context__, TimeoutError):
            raise OpsError(
                f"{where} accepted a connection but sent no MySQL greeting within "
                f"{CONNECT_TIMEOUT} s: {hint}"
            ) from exc
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        reason = exc.args[-1] if exc.args else type(exc).__name__
        # Codes below 2000 are the server's own answers (a wrong password, an unknown
        # database); the rest are the client's, when what answered may not be MySQL at all.
        suffix = "" if code is not None and code < 2000 else f"; {hint}"
        raise OpsError(f"cannot connect to {where}: {reason}{suffix}") from exc
    except Exception as exc:  # bytes pymysql cannot parse: what answered is not MySQL
        raise OpsError(
            f"{where} did not answer like a MySQL/MariaDB server ({type(exc).__name__}): {hint}"
        ) from exc


def server_version(settings):
    """The server's ``VERSION()``, e.g. ``10.11.6-MariaDB-0+deb12u1``."""
    with connect_checked(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        return cursor.fetchone()[0]


def create_database(settings):
    """Create ``settings.database`` (utf8mb4_bin, as the lookup rule needs) unless it exists."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", settings.database):
        raise OpsError("DB_NAME may hold only letters, digits and underscores")
    with connect_checked(settings) as conn, conn.cursor() as cursor:
        # The name was checked against [A-Za-z0-9_] above, so backquoting it is safe.
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{settings.database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def load_sample(settings, path=SAMPLE_FILE):
    """Run the statements of ``path``; return the number of rows they added."""
    conn = connect_checked(settings, settings.database)
    added = 0
    with conn, conn.cursor() as cursor:
        for statement in sqlparse.split(Path(path).read_text(encoding="utf-8")):
            if statement.strip():
                added += cursor.execute(statement.rstrip().rstrip(";"))
    return added
