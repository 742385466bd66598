"""Shared fixtures: fake AWS credentials, and throw-away databases on a real MySQL/MariaDB server.

The server is the one at DB_HOST:DB_PORT (default 127.0.0.1:3306, root, empty password), as
.ci/run guarantees. Every database a test makes is named ``pets_test_<random>`` and dropped
afterwards, so the shared server is left as it was found.
"""

import io
import os

import pytest

from ops.context import Context
from ops.dbsettings import DbSettings
from ops.migrate import MIGRATIONS_DIR, migrate
from ops.scratchdb import admin_connection, scratch_database

__all__ = [
    "PETS",
    "admin_connection",
    "db_env",
    "scratch_database",
]  # what test modules import from here

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


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch):
    """No test may reach a real AWS account by accident (moto's advice: set these first)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret -- moto's documented fake
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


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


@pytest.fixture(scope="session")
def server_settings():
    """Settings for the test server itself, with no database chosen."""
    env = {k: v for k, v in os.environ.items() if k.startswith("DB_")}
    env.setdefault("DB_NAME", "")
    env.setdefault("DB_USER", "root")
    env.setdefault("DB_PASSWORD", "")
    return DbSettings.from_env(env)


@pytest.fixture
def empty_db(server_settings):
    """A new, empty database for one test (migration tests)."""
    with scratch_database(server_settings) as settings:
        yield settings


@pytest.fixture(scope="session")
def pets_db(server_settings):
    """One migrated database with PETS, shared by the read-only tests of a session."""
    with scratch_database(server_settings) as settings:
        migrate(settings, MIGRATIONS_DIR, Context(out=io.StringIO(), err=io.StringIO()))
        with admin_connection(settings, settings.database) as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pet (name, owner, species, sex) VALUES (%s, %s, %s, %s)", PETS
            )
        yield settings
