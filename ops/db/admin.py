"""Local administration of a MySQL/MariaDB server: what ``make run`` does before serving.

An admin connection logs in with the ``DB_*`` user and password as they are (a developer's
server: root with no password by default), never with IAM or Secrets Manager. Nothing here runs
in AWS; the stages' databases are changed only by the migrations, from their admin hosts.
"""

import re
from pathlib import Path

import pymysql
import sqlparse

from ops.errors import OpsError

SAMPLE_FILE = Path(__file__).resolve().parents[2] / "sql" / "sample" / "pets.sql"


def admin_connection(settings, database=None, **extra):
    """A plain autocommit connection with the settings' user and password (local use only)."""
    return pymysql.connect(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        **extra,
    )


def create_database(settings):
    """Create ``settings.database`` (utf8mb4_bin, as the lookup rule needs) unless it exists."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", settings.database):
        raise OpsError("DB_NAME may hold only letters, digits and underscores")
    try:
        conn = admin_connection(settings, connect_timeout=5)
    except pymysql.err.MySQLError as exc:
        raise OpsError(
            f"cannot connect to {settings.host}:{settings.port}: {exc.args[-1]}"
        ) from exc
    with conn, conn.cursor() as cursor:
        # The name was checked against [A-Za-z0-9_] above, so backquoting it is safe.
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{settings.database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def load_sample(settings, path=SAMPLE_FILE):
    """Run the statements of ``path``; return the number of rows they added."""
    conn = admin_connection(settings, settings.database, connect_timeout=5)
    added = 0
    with conn, conn.cursor() as cursor:
        for statement in sqlparse.split(Path(path).read_text(encoding="utf-8")):
            if statement.strip():
                added += cursor.execute(statement.rstrip().rstrip(";"))
    return added
