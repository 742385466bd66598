"""Where the database password for a new connection comes from.

Asked once per new connection, never cached: a connection lives as long as a warm Lambda
container, so this is rare, and a rotated secret or a fresh IAM token is picked up by the next
connection. boto3 is imported only when AWS is used, to keep it off the local cold start.
"""

import json


class CredentialsError(RuntimeError):
    """The credentials could not be obtained. The message names no secret."""


def get_credentials(settings, session_factory=None):
    """Return ``(user, password)`` for a new connection described by ``settings``."""
    if settings.auth == "password":
        return settings.user, settings.password
    session = session_factory() if session_factory else _boto3_session()
    if settings.auth == "secret":
        return _from_secret(session, settings)
    if settings.auth == "iam":
        rds = session.client("rds")
        token = rds.generate_db_auth_token(
            DBHostname=settings.host, Port=settings.port, DBUsername=settings.user
        )
        return settings.user, token
    raise CredentialsError(f"DB_AUTH must be password, secret or iam, not {settings.auth!r}")


def _from_secret(session, settings):
    if not settings.secret_arn:
        raise CredentialsError("DB_AUTH=secret needs DB_SECRET_ARN")
    client = session.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=settings.secret_arn)["SecretString"]
        secret = json.loads(value)
        return secret.get("username", settings.user), secret["password"]
    except (KeyError, ValueError, TypeError):
        raise CredentialsError("the database secret has no JSON 'password' field") from None


def _boto3_session():
    import boto3  # noqa: PLC0415 -- deferred: boto3 costs ~100 ms of cold start and is only needed in AWS

    return boto3.session.Session()
