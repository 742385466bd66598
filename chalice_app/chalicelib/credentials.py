"""Where the database password for a new connection comes from, and the AWS clients that sign.

Asked once per new connection, never cached: a connection lives as long as a warm Lambda
container, so this is rare, and a rotated secret or a fresh IAM token is picked up by the next
connection. boto3 is imported only when AWS is used, to keep it off the local cold start.

With ``DB_AUTH=iam`` the first connection of a container needs botocore, the RDS client's model
and the endpoint data (about 0.25 s; docs/performance.md). ``prepare`` loads them during the
function's init, through clients that sign nothing, so no credentials are read then. Under Lambda
SnapStart the init runs once, when a version is published, and every new environment resumes
from its snapshot with all that loaded; the clients that sign (and so hold credentials) are made
on first use, after the restore, and ``forget_credentials`` runs after every restore (a
``snapshot_restore_py`` hook) to make sure none made before the snapshot is ever reused.
"""

import json
import logging

try:  # the runtime hooks ship with Lambda's Python runtimes; elsewhere nothing is snapshotted
    from snapshot_restore_py import register_after_restore
except ImportError:

    def register_after_restore(func, *args, **kwargs):
        return func


log = logging.getLogger(__name__)
# "session": a botocore session whose loader holds the models; "clients": signing clients.
_AWS = {"clients": {}}


class CredentialsError(RuntimeError):
    """The credentials could not be obtained. The message names no secret."""


def get_credentials(settings, session_factory=None):
    """Return ``(user, password)`` for a new connection described by ``settings``."""
    if settings.auth == "password":
        return settings.user, settings.password
    if settings.auth == "secret":
        session = session_factory() if session_factory else _boto3_session()
        return _from_secret(session, settings)
    session = session_factory() if session_factory else None
    if settings.auth == "iam":
        rds = session.client("rds") if session_factory else aws_client("rds")
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


def prepare(env):
    """Load, during init, what the first IAM-authenticated connection will need (see above).

    Best effort: a failure here (no region, say) is logged and left to the first connection,
    which reports it as a 503 like any other failure to connect.
    """
    if env.get("DB_AUTH") != "iam" or "session" in _AWS:
        return
    try:
        import botocore.session  # noqa: PLC0415 -- only for IAM auth, at init
        from botocore import UNSIGNED  # noqa: PLC0415 -- as above
        from botocore.config import Config  # noqa: PLC0415 -- as above

        session = botocore.session.get_session()
        services = ["rds", "s3"] if env.get("DB_SSL_CA", "").startswith("s3://") else ["rds"]
        for service in services:
            # An unsigned client reads no credentials, and loads the model and endpoints.
            session.create_client(service, config=Config(signature_version=UNSIGNED))
    except Exception as exc:  # noqa: BLE001 -- an optimisation: never fail the init for it
        log.warning("could not prepare AWS clients at init: %s", type(exc).__name__)
        return
    _AWS["session"] = session


def aws_client(service):
    """A signing client for ``service``, made on first use (after any restore) and then reused."""
    if service not in _AWS["clients"]:
        if "session" not in _AWS:
            import botocore.session  # noqa: PLC0415 -- deferred: costly, and only needed in AWS

            _AWS["session"] = botocore.session.get_session()
        _AWS["clients"][service] = _AWS["session"].create_client(service)
    return _AWS["clients"][service]


@register_after_restore
def forget_credentials():
    """Drop every signing client and the credentials the session resolved, keep the models.

    One snapshot resumes many environments: credentials (and the tokens they sign) from before
    it must never be reused. The fresh session shares the old one's loader, which holds the
    models, so the next client is still cheap.
    """
    _AWS["clients"] = {}
    old = _AWS.get("session")
    if old is not None:
        import botocore.session  # noqa: PLC0415 -- already loaded by prepare

        fresh = botocore.session.get_session()
        fresh.register_component("data_loader", old.get_component("data_loader"))
        _AWS["session"] = fresh
