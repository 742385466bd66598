"""Credentials and TLS settings in AWS, with Secrets Manager and S3 emulated by moto.

The database is the real MariaDB; only AWS is emulated.
"""

import hashlib
import json
import uuid
from pathlib import Path

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import create_app
from chalicelib.credentials import CredentialsError, get_credentials
from chalicelib.db import connector
from chalicelib.settings import DbSettings
from chalicelib.tls import UntrustedBundle, ca_file, ssl_options
from ops.db.admin import admin_connection


@pytest.fixture
def aws():
    with mock_aws():
        yield lambda: boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def db_user(pets_db):
    """A throw-away database user with SELECT on pet, dropped afterwards."""
    name = f"pets_rot_{uuid.uuid4().hex[:8]}"
    with admin_connection(pets_db) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'first-password'")
        cursor.execute(f"GRANT SELECT ON `{pets_db.database}`.pet TO '{name}'@'%'")
    try:
        yield name
    finally:
        with admin_connection(pets_db) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")


def test_rotated_secret_is_used_by_the_next_connection(aws, pets_db, db_user):
    secrets = aws().client("secretsmanager")
    arn = secrets.create_secret(
        Name="pets/test/api",
        SecretString=json.dumps({"username": db_user, "password": "first-password"}),
    )["ARN"]
    settings = pets_db._replace(auth="secret", secret_arn=arn, user="unused", password="")
    app = create_app(settings=settings, connect=connector(settings, session_factory=aws))
    with Client(app) as client:
        assert client.http.get("/api/pet/Rex").status_code == 200
        # Rotate: the server's password and the secret change; the open connection is closed.
        with admin_connection(pets_db) as conn, conn.cursor() as cursor:
            cursor.execute(f"ALTER USER '{db_user}'@'%' IDENTIFIED BY 'second-password'")
            cursor.execute("KILL %s", (app.get_db()._conn.thread_id(),))
        secrets.put_secret_value(
            SecretId=arn,
            SecretString=json.dumps({"username": db_user, "password": "second-password"}),
        )
        assert client.http.get("/api/pet/Rex").status_code == 200
    assert app.get_db().connections_opened == 2


def test_secret_without_password_is_a_clear_error(aws):
    arn = aws().client("secretsmanager").create_secret(Name="bad", SecretString="{}")["ARN"]
    settings = DbSettings(auth="secret", secret_arn=arn)
    with pytest.raises(CredentialsError, match="no JSON 'password'"):
        get_credentials(settings, session_factory=aws)


def test_secret_failure_is_503_not_500(aws, pets_db):
    arn = aws().client("secretsmanager").create_secret(Name="bad2", SecretString="{}")["ARN"]
    settings = pets_db._replace(auth="secret", secret_arn=arn)
    app = create_app(settings=settings, connect=connector(settings, session_factory=aws))
    with Client(app) as client:
        response = client.http.get("/api/pet/Rex")
    assert response.status_code == 503
    assert "password" not in response.body.decode()


def test_iam_auth_uses_a_signed_token_not_a_password(aws):
    settings = DbSettings(host="db.example", port=3306, user="pets_api", auth="iam")
    user, token = get_credentials(settings, session_factory=aws)
    assert user == "pets_api"
    assert token.startswith("db.example:3306/?Action=connect&DBUser=pets_api")
    assert "X-Amz-Signature=" in token


def test_ca_bundle_is_fetched_from_s3_once(aws, tmp_path):
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="rds-ca/us-east-1-bundle.pem", Body=b"PEM DATA")
    location = "s3://artifacts/rds-ca/us-east-1-bundle.pem"
    path = ca_file(location, session_factory=aws)
    assert Path(path).read_bytes() == b"PEM DATA"
    s3.delete_object(Bucket="artifacts", Key="rds-ca/us-east-1-bundle.pem")
    assert ca_file(location, session_factory=aws) == path  # cached: no second download


def test_plain_ca_path_is_used_as_is():
    assert ssl_options(DbSettings(ssl_ca="/etc/ca.pem")) == {"ca": "/etc/ca.pem"}
    assert ssl_options(DbSettings()) is None


def test_ca_bundle_with_another_digest_is_refused(aws):
    """Both stages' deploy roles may write rds-ca/: a bundle that is not the deployed one is
    refused (and the API answers 503), never trusted."""
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="shared")
    s3.put_object(Bucket="shared", Key="rds-ca/eu-west-1-bundle.pem", Body=b"REPLACED")
    location = "s3://shared/rds-ca/eu-west-1-bundle.pem"
    with pytest.raises(UntrustedBundle):
        ca_file(location, session_factory=aws, sha256=hashlib.sha256(b"DEPLOYED").hexdigest())
    good = hashlib.sha256(b"REPLACED").hexdigest()
    assert Path(ca_file(location, session_factory=aws, sha256=good)).read_bytes() == b"REPLACED"


def test_settings_carry_the_ca_digest():
    settings = DbSettings.from_env({"DB_SSL_CA": "s3://b/k", "DB_SSL_CA_SHA256": "ab" * 32})
    assert settings.ssl_ca_sha256 == "ab" * 32
