"""Throw-away databases on the test server, the known pets, and the DB_* of a subprocess.

A scratch database is named ``pets_test_<kind><random>`` so that it can never be mistaken for a
real one and any sweep of leftover ``pets_test_*`` databases finds it; it is dropped whatever
happens, so the shared server is left as it was found. The benchmark uses the same helper.
"""

import contextlib
import uuid

from ops.db.admin import admin_connection
from ops.db.migrate import MIGRATIONS_DIR, migrate

# Known pets for lookup tests: edge cases of the lookup rule (docs/lookup-rule.md) included.
PETS = [
    ("Fluffy", "Harold", "cat", "f"),
    ("Rex", "Ana", "dog", "m"),
    ("Zoë", "Ana", "cat", "f"),  # NFC: U+00EB
    ("Mr. Whiskers 🐈", "Ana", "cat", "m"),  # 4-byte UTF-8
    ("a_c", "Ben", "fish", None),  # a LIKE wildcard, literally
    ("50%", "Ben", "fish", None),
    ("%41", "Ben", "fish", None),  # looks percent-encoded itself
    ("a/b", "Ben", "fish", None),
    ("Tabby ", "Ben", "cat", "f"),  # trailing space, stored on purpose
    ("O'Brien", "Ben", "dog", "m"),
    ("Twenty characters!!", "Ben", "dog", "m"),  # exactly 20
    ("Robert'); DROP TABL", "Ben", "dog", "m"),
    ("Smokey", "pets-pipeline", "canary", None),  # ops smoke's pet (sql/aws/canary.sql)
]


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
            migrate(settings, MIGRATIONS_DIR, lambda _message: None)
        yield settings
    finally:
        with admin_connection(server) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def insert_pets(settings, pets=PETS):
    with admin_connection(settings, settings.database) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO pet (name, owner, species, sex) VALUES (%s, %s, %s, %s)", pets
        )


def db_env(settings, **extra):
    """The DB_* variables that point a subprocess (ops, make run) at ``settings``' database."""
    return {
        "DB_HOST": settings.host,
        "DB_PORT": str(settings.port),
        "DB_USER": settings.user,
        "DB_PASSWORD": settings.password,
        "DB_NAME": settings.database,
        **extra,
    }
