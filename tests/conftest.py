"""Fixtures every test may use: fake AWS credentials, and databases on a real MySQL/MariaDB server.

The server is the one at DB_HOST:DB_PORT (default 127.0.0.1:3306, root, empty password), as
.ci/run guarantees. Every database a test makes is a scratch database (tests/support/db.py),
dropped afterwards, so the shared server is left as it was found. Helpers live in
``tests.support``; nothing imports this file.
"""

import os

import pytest

from chalicelib.settings import DbSettings
from tests.support.db import insert_pets, scratch_database


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
    """One migrated database with the known pets, shared by the read-only tests of a session."""
    with scratch_database(server_settings, migrated=True) as settings:
        insert_pets(settings)
        yield settings
