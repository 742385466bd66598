"""``python -m ops migrate --stage S``: the bundle, the exact SSM command, success and failure.

moto serves CloudFormation (stack outputs), S3 (the artifacts bucket), Secrets Manager (a master
secret whose password must never show up) and SSM SendCommand/GetCommandInvocation (moto runs
nothing: it records the command and reports every invocation Success with empty output).
botocore Stubber serves DescribeInstanceInformation (not in moto) and, in the failure test,
GetCommandInvocation, because moto cannot report a Failed invocation with output.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ops.cli import main
from ops.commands import migrate_stage
from ops.db.admin import admin_connection
from tests.support.aws import REGION, SplitClient, bootstrap_stage, create_stack, make_context
from tests.support.clock import FakeClock
from tests.support.http import answering
from tests.support.requirements import pinned_site

ROOT = Path(__file__).resolve().parents[3]
CA_PEM = (
    b"-----BEGIN CERTIFICATE-----\nMIIB (a stand-in RDS CA bundle)\n-----END CERTIFICATE-----\n"
)
HOST = "i-0aaaabbbbccccdddd"
BUCKET = "pets-artifacts-123456789012"
PASSWORD = "Sup3r-S3cret-Pa55word"  # pragma: allowlist secret -- fake; must never leak
ENDPOINT = "pets-dev.cluster-abc.us-east-1.rds.amazonaws.com"
# Where the API reads on a stage with readers behind RDS Proxy: never where migrations go.
API_READ_ENDPOINT = "pets-dev-read.endpoint.proxy-abc.us-east-1.rds.amazonaws.com"
API_WRITER_ENDPOINT = "pets-dev.proxy-abc.us-east-1.rds.amazonaws.com"
MASTER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-abc-Ab12Cd"


def test_bundle_holds_what_runs_on_the_host_and_nothing_else_and_is_reproducible():
    files = migrate_stage.bundle_files()
    for needed in (
        "requirements-migrate.txt",
        "ops/__init__.py",
        "ops/errors.py",
        "ops/host/__main__.py",
        "ops/host/steps.py",
        "ops/db/migrate.py",
        "chalicelib/credentials.py",
        "chalicelib/settings.py",
        "sql/migrations/0001_create_pet.sql",
        "sql/aws/users.sql",
        "sql/aws/developers.txt",
    ):
        assert needed in files
    # No command, no CloudFormation machinery, no AWS-side tooling: only what the host runs.
    assert not any(f.startswith(("ops/commands/", "ops/cfn/", "ops/cli", "tests/")) for f in files)
    assert not any(f.startswith(("chalice_app/", "app.py", ".")) for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    data, digest = migrate_stage.build_bundle()
    assert migrate_stage.build_bundle() == (data, digest)  # same tree, same bytes and name
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(files)
        assert (
            archive.read("chalicelib/db.py") == (ROOT / "chalice_app/chalicelib/db.py").read_bytes()
        )


def test_bundle_alone_migrates_a_real_database_with_only_the_pinned_packages(tmp_path, empty_db):
    """What the host does after download: unzip, then `python -m ops.host migrate` with only
    the pinned packages importable (``-S``: no site-packages of this venv), on a real database."""
    data, _ = migrate_stage.build_bundle()
    app = tmp_path / "app"
    zipfile.ZipFile(io.BytesIO(data)).extractall(app)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(pinned_site(tmp_path / "site", ROOT / "requirements-migrate.txt")),
        "DB_HOST": empty_db.host,
        "DB_PORT": str(empty_db.port),
        "DB_USER": empty_db.user,
        "DB_PASSWORD": empty_db.password,
        "DB_NAME": empty_db.database,
    }
    done = subprocess.run(
        [sys.executable, "-S", "-m", "ops.host", "migrate"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "applying 0001_create_pet.sql" in done.stdout
    with admin_connection(empty_db, empty_db.database) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES LIKE 'pet'")
        assert cursor.fetchone() == ("pet",)


class Stage:
    """The dev stage in moto: stacks, bucket, secret; SSM split between moto and a Stubber."""

    def __init__(self, stub_invocations=False):
        secrets = boto3.client("secretsmanager", region_name=REGION)
        self.secret_arn = secrets.create_secret(
            Name="rds!cluster-abc",
            SecretString=json.dumps({"username": "admin", "password": PASSWORD}),
        )["ARN"]
        create_stack(
            "pets-dev-infra",
            {
                "HostInstanceId": HOST,
                "DbClusterEndpoint": ENDPOINT,
                "DbApiReadEndpoint": API_READ_ENDPOINT,
                "DbApiWriterEndpoint": API_WRITER_ENDPOINT,
                "DbClusterPort": "3306",
                "DbMasterSecretArn": self.secret_arn,
            },
        )
        bootstrap_stage(BUCKET)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.moto_ssm = boto3.client("ssm", region_name=REGION)
        stubbed = boto3.client("ssm", region_name=REGION)
        self.stub = Stubber(stubbed)
        operations = {"describe_instance_information"}
        if stub_invocations:
            operations.add("get_command_invocation")
        self.clock = FakeClock()
        self.ctx = make_context(
            {
                "cloudformation": boto3.client("cloudformation", region_name=REGION),
                "s3": self.s3,
                "ssm": SplitClient(self.moto_ssm, stubbed, operations),
            },
            clock=self.clock,
        )
        self.ctx.fetch = answering(CA_PEM)  # the runner's download of the RDS CA bundle

    def online(self, status="Online"):
        self.stub.add_response(
            "describe_instance_information",
            {"InstanceInformationList": [{"InstanceId": HOST, "PingStatus": status}]},
            {"Filters": [{"Key": "InstanceIds", "Values": [HOST]}]},
        )

    def run(self):
        with self.stub:
            code = main(["migrate", "--stage", "dev", "--timeout", "600"], self.ctx)
        self.stub.assert_no_pending_responses()
        return code

    def commands(self):
        return self.moto_ssm.list_commands()["Commands"]


@pytest.fixture
def stage_factory():
    with mock_aws():
        yield Stage


def test_migrate_stage_uploads_bundle_and_sends_the_exact_command(stage_factory):
    """Success path. moto: stacks, S3, Secrets Manager, SendCommand, GetCommandInvocation. Stubber:
    DescribeInstanceInformation (not in moto).
    """
    stage = stage_factory()
    stage.online()
    assert stage.run() == 0
    stage.online()
    assert stage.run() == 0  # the same tree again: the bundle is not uploaded twice

    data, digest = migrate_stage.build_bundle()
    key = f"migrations/{digest}.zip"
    assert stage.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert f"uploaded the migration bundle ({len(data):,} bytes) to s3://{BUCKET}/{key}" in (
        stage.ctx.out.getvalue()
    )
    assert f"already uploaded: s3://{BUCKET}/{key}" in stage.ctx.out.getvalue()
    command = stage.commands()[0]
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert command["InstanceIds"] == [HOST]
    assert command["Parameters"]["executionTimeout"] == ["600"]
    lines = command["Parameters"]["commands"]
    assert lines == migrate_stage.remote_script(
        bucket=BUCKET,
        key=key,
        digest=digest,
        region=REGION,
        db_host=ENDPOINT,
        db_port="3306",
        secret_arn=stage.secret_arn,
        ca_sha256=hashlib.sha256(CA_PEM).hexdigest(),
        stage="dev",
    )
    text = "\n".join(lines)
    assert lines[0] == "set -eu"
    assert f"{digest}  bundle.zip' | sha256sum --check" in text
    # The venv comes from the host's pets-venv, which installs only hash-checked files
    # (tests/integration/templates/test_host_setup.py); nothing here runs pip itself.
    assert "venv=$(pets-venv app/requirements-migrate.txt)" in lines
    assert not [line for line in lines if "pip install" in line]
    ca_sha256 = hashlib.sha256(CA_PEM).hexdigest()
    assert f"s3://{BUCKET}/rds-ca/{REGION}-{ca_sha256}.pem" in text
    assert (
        stage.s3.get_object(Bucket=BUCKET, Key=f"rds-ca/{REGION}-{ca_sha256}.pem")["Body"].read()
        == CA_PEM
    )  # uploaded by the run itself: a first deploy migrates before deploy-api
    env_line = next(line for line in lines if line.startswith("export DB_HOST="))
    assert f"DB_HOST={ENDPOINT} DB_PORT=3306 DB_NAME=pets DB_AUTH=secret" in env_line
    assert f"DB_SECRET_ARN='{stage.secret_arn}'" in env_line  # quoted: the ARN holds a "!"
    assert 'DB_SSL_CA="$work/rds-ca.pem"' in env_line
    assert lines[-3:] == [
        '"$venv/bin/python" -m ops.host wait',
        '"$venv/bin/python" -m ops.host migrate',
        '"$venv/bin/python" -m ops.host users --stage dev',
    ]
    everything = json.dumps(command, default=str) + stage.ctx.out.getvalue()
    everything += stage.ctx.err.getvalue()
    # Migrations write: always the cluster's writer endpoint, never a reader or the proxy.
    assert API_READ_ENDPOINT not in everything and API_WRITER_ENDPOINT not in everything
    assert PASSWORD not in everything
    assert "DB_PASSWORD" not in everything
    assert PASSWORD.encode() not in data


def test_migrate_stage_failure_prints_remote_output_and_exits_1(stage_factory):
    """Failure path. moto: stacks, S3, SendCommand. Stubber: DescribeInstanceInformation,
    GetCommandInvocation (InvocationDoesNotExist, then Failed with output: moto cannot fail).
    """
    stage = stage_factory(stub_invocations=True)
    stage.online()
    stage.stub.add_client_error(
        "get_command_invocation",
        service_error_code="InvocationDoesNotExist",
        http_status_code=400,
        expected_params={"CommandId": ANY, "InstanceId": HOST},
    )
    stage.stub.add_response(
        "get_command_invocation",
        {
            "CommandId": "00000000-0000-0000-0000-000000000000",
            "InstanceId": HOST,
            "Status": "Failed",
            "StatusDetails": "Failed",
            "ResponseCode": 1,
            "StandardOutputContent": "migrate: applying 0002_add_column.sql\n",
            "StandardErrorContent": (
                "migrate: 0002_add_column.sql failed and was not recorded: Duplicate column "
                "name 'age'; fix the file and run migrate again (docs/migrations.md)\n"
            ),
        },
        {"CommandId": ANY, "InstanceId": HOST},
    )

    assert stage.run() == 1

    out, err = stage.ctx.out.getvalue(), stage.ctx.err.getvalue()
    assert "  migrate: applying 0002_add_column.sql" in out
    assert err.splitlines()[-1] == (
        f"migrate: dev migration on {HOST} Failed, exit code 1: migrate: 0002_add_column.sql "
        "failed and was not recorded: Duplicate column name 'age'; fix the file and run "
        "migrate again (docs/migrations.md)"
    )


def test_migrate_stage_host_offline_sends_nothing(stage_factory):
    """moto: stacks, S3, SendCommand history. Stubber: DescribeInstanceInformation
    (ConnectionLost).
    """
    stage = stage_factory()
    stage.online("ConnectionLost")

    assert stage.run() == 1

    assert stage.commands() == []
    assert stage.ctx.err.getvalue() == (
        f"migrate: cannot run commands on {HOST}: SSM agent is ConnectionLost\n"
    )


def test_migrate_stage_names_missing_outputs(stage_factory):
    """moto: CloudFormation only."""
    with mock_aws():
        create_stack("pets-prod-infra", {"HostInstanceId": HOST})
        ctx = make_context({"cloudformation": boto3.client("cloudformation", region_name=REGION)})
        assert main(["migrate", "--stage", "prod"], ctx) == 1
    assert ctx.err.getvalue() == (
        "migrate: stack pets-prod-infra has no output "
        "DbClusterEndpoint, DbClusterPort, DbMasterSecretArn\n"
    )


def test_migrate_without_stage_stays_local(empty_db):
    ctx = make_context(
        {},  # no AWS client at all: asking for one would raise KeyError
        env={
            "DB_HOST": empty_db.host,
            "DB_PORT": str(empty_db.port),
            "DB_USER": empty_db.user,
            "DB_PASSWORD": empty_db.password,
            "DB_NAME": empty_db.database,
        },
    )
    assert main(["migrate"], ctx) == 0
    assert "applied 1 migration(s)" in ctx.out.getvalue()


FAKE_AWS = """#!/bin/sh
# Stands in for the AWS CLI on the host: `aws s3 cp --only-show-errors s3://BUCKET/KEY DEST`
# copies $FAKE_S3/BUCKET/KEY. Anything else fails, so an unexpected call shows.
[ "$1 $2 $3" = "s3 cp --only-show-errors" ] || { echo "fake aws: unexpected $*" >&2; exit 2; }
cp "$FAKE_S3/${4#s3://}" "$5"
"""

FAKE_VENV_TOOL = """#!/bin/sh
# Stands in for pets-venv (installed by cfn-init): records which requirements it was asked for
# and prints the ready venv.
echo "$1" >> "$VENV_REQUESTS"
echo "$FAKE_VENV"
"""

RECORDING_PYTHON = """#!/bin/sh
# Stands in for the venv's python: records each call, its folder and what it could see.
{
  echo "call: $*"
  echo "cwd: $(basename "$PWD")"
  echo "env: $DB_HOST $DB_PORT $DB_NAME $DB_AUTH $DB_SECRET_ARN"
  [ -s "$DB_SSL_CA" ] && echo "ca: readable"
  [ -f ops/host/steps.py ] && [ -f sql/aws/users.sql ] && echo "bundle: extracted"
} >> "$CALLS"
"""


def _host(tmp_path, bundle, digest, ca=None, venv_tool=True):
    """A fake host: S3 objects on disk, a fake `aws`, a fake `pets-venv` (unless ``venv_tool``
    is false) handing out a ready venv whose python records calls."""
    s3 = tmp_path / "s3" / BUCKET
    (s3 / "migrations").mkdir(parents=True)
    (s3 / "rds-ca").mkdir()
    (s3 / "migrations" / f"{digest}.zip").write_bytes(bundle)
    ca_name = f"{REGION}-{hashlib.sha256(CA_PEM).hexdigest()}.pem"  # the key the script names
    (s3 / "rds-ca" / ca_name).write_bytes(CA_PEM if ca is None else ca)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    if venv_tool:
        (bin_dir / "pets-venv").write_text(FAKE_VENV_TOOL)
        (bin_dir / "pets-venv").chmod(0o755)
    venv = tmp_path / "venvs" / "venv-0123456789abcdef"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(RECORDING_PYTHON)
    (venv / "bin" / "python").chmod(0o755)
    script = migrate_stage.remote_script(
        bucket=BUCKET,
        key=f"migrations/{digest}.zip",
        digest=digest,
        region=REGION,
        db_host=ENDPOINT,
        db_port="3306",
        secret_arn=MASTER_ARN,
        ca_sha256=hashlib.sha256(CA_PEM).hexdigest(),
        stage="dev",
    )
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_S3": str(tmp_path / "s3"),
        "CALLS": str(tmp_path / "calls.log"),
        "FAKE_VENV": str(venv),
        "VENV_REQUESTS": str(tmp_path / "venv-requests.log"),
    }
    return script, env


def _run_sh(script, env):
    # dash where there is one: AWS-RunShellScript runs the lines with sh, so no bashisms.
    shell = "/bin/dash" if Path("/bin/dash").exists() else "/bin/sh"
    return subprocess.run(
        [shell, "-c", "\n".join(script)], env=env, capture_output=True, text=True, timeout=60
    )


def test_remote_script_runs_under_posix_sh_in_order_with_the_right_environment(tmp_path):
    data, digest = migrate_stage.build_bundle()
    script, env = _host(tmp_path, data, digest)

    done = _run_sh(script, env)

    assert done.returncode == 0, done.stderr
    assert f"migrate: bundle {digest[:12]}" in done.stdout
    calls = (tmp_path / "calls.log").read_text().split("call: ")[1:]
    assert [c.splitlines()[0] for c in calls] == [
        "-m ops.host wait",
        "-m ops.host migrate",
        "-m ops.host users --stage dev",
    ]
    for call in calls:
        assert "cwd: app" in call
        assert f"env: {ENDPOINT} 3306 pets secret {MASTER_ARN}" in call
        assert "ca: readable" in call and "bundle: extracted" in call
    # The venv is the one for the bundle's own requirements, asked of the host's pets-venv.
    assert (tmp_path / "venv-requests.log").read_text() == "app/requirements-migrate.txt\n"


def test_remote_script_on_a_host_without_cfn_init_setup_fails_in_one_line(tmp_path):
    data, digest = migrate_stage.build_bundle()
    script, env = _host(tmp_path, data, digest, venv_tool=False)

    done = _run_sh(script, env)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "migrate: this host was not set up by cfn-init (no pets-venv): deploy the infra stack "
        "(make deploy-infra)"
    )
    assert not (tmp_path / "calls.log").exists()  # nothing ran against the database


def test_remote_script_refuses_a_ca_bundle_someone_replaced(tmp_path):
    data, digest = migrate_stage.build_bundle()
    script, env = _host(tmp_path, data, digest, ca=b"-----BEGIN CERTIFICATE-----\nevil\n")

    done = _run_sh(script, env)

    assert done.returncode != 0
    assert "rds-ca.pem: FAILED" in done.stdout + done.stderr
    assert not (tmp_path / "calls.log").exists()  # nothing ran against the database


def test_remote_script_refuses_a_bundle_whose_sha256_does_not_match(tmp_path):
    data, digest = migrate_stage.build_bundle()
    script, env = _host(tmp_path, data + b"tampered", digest)

    done = _run_sh(script, env)

    assert done.returncode != 0
    assert "bundle.zip: FAILED" in done.stdout + done.stderr
    assert not (tmp_path / "calls.log").exists()  # nothing ran
