"""Settings come from the environment and never show a password (no I/O)."""

import json

import pytest

from app import create_app
from chalicelib.credentials import CredentialsError, get_credentials
from chalicelib.settings import DbSettings, SettingsError
from tests.support.events import LambdaContext, proxy_event


def test_defaults_are_a_local_server_as_root_on_pets():
    settings = DbSettings.from_env({})
    assert (settings.host, settings.port, settings.user, settings.database) == (
        "127.0.0.1",
        3306,
        "root",
        "pets",
    )
    assert settings.auth == "password"


def test_reads_every_variable():
    settings = DbSettings.from_env(
        {
            "DB_HOST": "db",
            "DB_PORT": "3307",
            "DB_USER": "u",
            "DB_PASSWORD": "pw",  # pragma: allowlist secret -- a made-up test value
            "DB_NAME": "n",
            "DB_CONNECT_TIMEOUT": "1.5",
            "DB_RETRY_AFTER": "7",
        }
    )
    assert (settings.host, settings.port, settings.user, settings.password) == (
        "db", 3307, "u", "pw",
    )  # fmt: skip
    assert settings.database == "n" and settings.connect_timeout == 1.5
    assert settings.retry_after == 7


def test_repr_hides_the_password():
    settings = DbSettings.from_env({"DB_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in repr(settings)
    assert "***" in repr(settings)


def test_password_auth_uses_the_settings():
    settings = DbSettings.from_env({"DB_USER": "u", "DB_PASSWORD": "pw"})
    assert get_credentials(settings) == ("u", "pw")


def test_unknown_auth_mode_is_a_clear_error():
    settings = DbSettings.from_env({"DB_AUTH": "kerberos"})
    with pytest.raises(CredentialsError, match="password, secret or iam"):
        get_credentials(settings, session_factory=lambda: None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DB_PORT", "abc", "DB_PORT must be a number, not 'abc'"),
        ("DB_PORT", "0", "DB_PORT must be positive"),
        ("DB_CONNECT_TIMEOUT", "-1", "DB_CONNECT_TIMEOUT must be positive"),
        ("DB_RETRY_AFTER", "soon", "DB_RETRY_AFTER must be a number"),
    ],
)
def test_bad_numbers_name_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message):
        DbSettings.from_env({name: value})


def test_bad_configuration_in_lambda_is_503_not_500():
    app = create_app(env={"DB_PORT": "x"})
    response = app(proxy_event("Rex"), LambdaContext())
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["code"] == "ServiceUnavailable"
    assert response["headers"]["Retry-After"] == "15"


def test_the_fallback_is_the_writer_on_the_same_port_unless_given():
    settings = DbSettings.from_env({"DB_HOST": "reader", "DB_FALLBACK_HOST": "writer"})
    fallback = settings.fallback()
    assert (fallback.host, fallback.port, fallback.user) == ("writer", 3306, "root")
    assert fallback.fallback() is None  # a fallback has no fallback of its own
    other_port = DbSettings.from_env({"DB_FALLBACK_HOST": "127.0.0.1", "DB_FALLBACK_PORT": "3307"})
    assert other_port.fallback().port == 3307


@pytest.mark.parametrize(
    "env",
    [
        {},  # no readers configured
        {
            "DB_HOST": "writer",
            "DB_FALLBACK_HOST": "writer",
        },  # no readers: the stack sets both alike
    ],
)
def test_no_fallback_when_there_is_nothing_else_to_read(env):
    assert DbSettings.from_env(env).fallback() is None
