"""Database settings, read from the environment only.

Locally these are the ``DB_*`` variables. In AWS the template sets ``DB_HOST``, ``DB_NAME``,
``DB_USER`` and ``DB_AUTH`` and never a password: ``DB_AUTH=iam`` signs an IAM authentication
token per connection, ``DB_AUTH=secret`` reads ``DB_SECRET_ARN`` from Secrets Manager per
connection (so a rotated secret takes effect on the next connection). See ``credentials.py``.

``DB_HOST`` is where lookups go: in AWS the infra stack says which endpoint that is (the reader
endpoint when the cluster has readers, the writer's otherwise, through RDS Proxy when it is on),
so adding readers needs no code change. ``DB_FALLBACK_HOST`` (with ``DB_FALLBACK_PORT``, which
defaults to ``DB_PORT``) is where they go when ``DB_HOST`` cannot answer: the writer. See
``db.py`` and docs/scaling.md.
"""

import os
from typing import NamedTuple


class SettingsError(ValueError):
    """A DB_* variable holds a value that cannot be used. The message names the variable."""


def _number(env, name, default, kind):
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = kind(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive, not {value!r}")
    return number


class DbSettings(NamedTuple):
    """Immutable; ``settings._replace(port=...)`` makes a changed copy.

    A NamedTuple rather than a dataclass: chalice already imports ``typing``, while
    ``dataclasses`` (and the ``inspect`` it pulls in) would cost ~5 ms of every cold start
    (docs/performance.md).
    """

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "pets"
    auth: str = "password"  # password | secret | iam
    secret_arn: str = ""
    ssl_ca: str = ""
    ssl_ca_sha256: str = ""  # when set, a downloaded CA bundle must have this digest
    connect_timeout: float = 2.0
    read_timeout: float = 2.0
    retry_after: int = 15  # seconds; an auto-paused Aurora cluster takes up to ~15 s to resume
    fallback_host: str = ""  # empty: no fallback; in AWS, the writer when host is a reader
    fallback_port: int = 0  # 0: the same as port

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        d = cls._field_defaults
        return cls(
            host=env.get("DB_HOST", d["host"]),
            port=_number(env, "DB_PORT", d["port"], int),
            user=env.get("DB_USER", d["user"]),
            password=env.get("DB_PASSWORD", d["password"]),
            database=env.get("DB_NAME", d["database"]),
            auth=env.get("DB_AUTH", d["auth"]),
            secret_arn=env.get("DB_SECRET_ARN", d["secret_arn"]),
            ssl_ca=env.get("DB_SSL_CA", d["ssl_ca"]),
            ssl_ca_sha256=env.get("DB_SSL_CA_SHA256", d["ssl_ca_sha256"]),
            connect_timeout=_number(env, "DB_CONNECT_TIMEOUT", d["connect_timeout"], float),
            read_timeout=_number(env, "DB_READ_TIMEOUT", d["read_timeout"], float),
            retry_after=_number(env, "DB_RETRY_AFTER", d["retry_after"], int),
            fallback_host=env.get("DB_FALLBACK_HOST", d["fallback_host"]),
            fallback_port=_number(env, "DB_FALLBACK_PORT", d["fallback_port"], int),
        )

    def fallback(self):
        """The settings of the fallback, or None when there is none (or it is ``host`` itself)."""
        port = self.fallback_port or self.port
        if not self.fallback_host or (self.fallback_host, port) == (self.host, self.port):
            return None
        return self._replace(host=self.fallback_host, port=port, fallback_host="", fallback_port=0)

    def __repr__(self):
        # Never print the password, even by accident in a log line or a traceback.
        shown = "***" if self.password else ""
        return (
            f"DbSettings(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={shown!r}, database={self.database!r}, auth={self.auth!r})"
        )
