"""Admin connections and throw-away databases on a MySQL/MariaDB server.

Used by ``make run`` (create the database if missing, load the sample pets), the tests and the
benchmark. A scratch database is named ``pets_test_<kind><random>`` so that it can never be
mistaken for a real one and any sweep of leftover ``pets_test_*`` databases finds it; it is
dropped whatever happens.
"""

import contextlib
import io
import uuid

import pymysql

from ops.context import Context
from ops.migrate import MIGRATIONS_DIR, migrate


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


@contextlib.contextmanager
def scratch_database(server, kind="", migrated=False):
    """Yield ``server``'s settings for a new, empty database (migrated if asked); drop it after."""
    name = f"pets_test_{kind}{uuid.uuid4().hex[:12]}"
    with admin_connection(server) as conn, conn.cursor() as cursor:
        # The name is generated above from hex digits, so backquoting it is safe.
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        settings = server._replace(database=name)
        if migrated:
            migrate(settings, MIGRATIONS_DIR, Context(out=io.StringIO(), err=io.StringIO()))
        yield settings
    finally:
        with admin_connection(server) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
