"""``python -m ops migrate --stage S``: the same migrations, run on the stage's Aurora cluster.

The database sits in private subnets with no route from the internet, and its master password
lives in the RDS-managed secret. So the pipeline does not connect to it. Instead it ships the
code to the admin host (in the VPC, already allowed to reach the database) and runs it there
through SSM Run Command (docs/migrations.md compares this with a VPC Lambda and the Data API):

1. **Bundle**: ``ops/``, ``sql/`` and ``chalice_app/chalicelib/`` (what ``python -m ops migrate``
   imports) plus ``requirements-migrate.txt`` (every package pinned) into a zip whose bytes
   depend only on the files' paths and contents, so the same tree gives the same SHA-256.
2. **Upload** it to the artifacts bucket (``pets-bootstrap`` output ``ArtifactsBucket``) as
   ``migrations/<stage>/<sha256>.zip``, unless that key is already there. The stage prefix is
   the bucket layout of cloudformation/bootstrap.yaml: a stage's deploy role writes only its
   own prefix and a stage's host reads only its own.
3. **Run** ``AWS-RunShellScript`` on the host (``pets-S-infra`` output ``HostInstanceId``), after
   checking it is SSM-managed and Online: download the bundle and check its SHA-256, download
   the RDS CA bundle (``rds-ca/<region>-<sha256>.pem``, uploaded by this run), make a venv with
   the pinned packages (kept between runs, one per requirements file), wait for the cluster to
   answer, run ``python -m ops migrate``, then apply the AWS-only users and grants
   (``python -m ops.hostdb users``).

The command text names the secret's ARN, never its value: the host's instance role reads the
secret (``DB_AUTH=secret``) inside AWS, and nothing prints it. The host's output is printed
here; a failure exits 1 with the host's status and the last line it wrote to stderr.
"""

import hashlib
import io
import shlex
import zipfile
from pathlib import Path

from botocore.exceptions import ClientError

from ops import artifacts, ssm
from ops.errors import OpsError
from ops.stackoutputs import BOOTSTRAP_STACK, infra_stack, require, stack_outputs

ROOT = Path(__file__).resolve().parent.parent
BUNDLE_DIRS = ("ops", "sql", "chalice_app/chalicelib")
BUNDLE_SUFFIXES = {".py", ".sql", ".txt"}
REQUIREMENTS = "requirements-migrate.txt"
DATABASE = "pets"
DOCUMENT = "AWS-RunShellScript"
# The host runs Amazon Linux 2023, whose default python3 (3.9) is older than this code needs.
HOST_PYTHON = "python3.11"
VENV_ROOT = "/var/lib/pets-migrate"
# Zip entries carry a timestamp; a fixed one keeps the bundle's bytes (and name) reproducible.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def bundle_files(root=ROOT):
    """Relative POSIX paths of the files the bundle holds, sorted."""
    root = Path(root)
    files = [root / REQUIREMENTS]
    for folder in BUNDLE_DIRS:
        files += [
            p
            for p in (root / folder).rglob("*")
            if p.is_file() and p.suffix in BUNDLE_SUFFIXES and "__pycache__" not in p.parts
        ]
    return sorted(p.relative_to(root).as_posix() for p in files)


def requirements_digest(root=ROOT):
    return hashlib.sha256((Path(root) / REQUIREMENTS).read_bytes()).hexdigest()


def build_bundle(root=ROOT):
    """``(zip bytes, sha256 hex)`` of the bundle, byte-for-byte reproducible."""
    root = Path(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in bundle_files(root):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / name).read_bytes())
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def remote_script(
    *,
    bucket,
    key,
    digest,
    requirements_digest,
    region,
    db_host,
    db_port,
    secret_arn,
    ca_sha256,
    venv_root=VENV_ROOT,
):
    """The shell lines the host runs (POSIX sh, as AWS-RunShellScript runs them).

    Every value from outside is quoted; the secret's value is not among them.
    """
    q = shlex.quote
    bundle = f"s3://{bucket}/{key}"
    ca = f"s3://{bucket}/{artifacts.rds_ca_key(region, ca_sha256)}"
    return [
        "set -eu",
        f"export AWS_DEFAULT_REGION={q(region)}",
        "work=$(mktemp -d /tmp/pets-migrate.XXXXXX)",
        "trap 'rm -rf \"$work\"' EXIT",
        'cd "$work"',
        f"echo {q(f'migrate: bundle {digest[:12]} from {bundle}')}",
        f"aws s3 cp --only-show-errors {q(bundle)} bundle.zip",
        f"echo {q(digest + '  bundle.zip')} | sha256sum --check --quiet -",
        f"aws s3 cp --only-show-errors {q(ca)} rds-ca.pem",
        # Both stages' deploy roles may write rds-ca/: trust only the bundle this run uploaded.
        f"echo {q(ca_sha256 + '  rds-ca.pem')} | sha256sum --check --quiet -",
        f"command -v {HOST_PYTHON} >/dev/null 2>&1 || dnf install -y -q {HOST_PYTHON}",
        f"{HOST_PYTHON} -m zipfile -e bundle.zip app",
        # One venv per requirements file, kept between runs: pip only runs when the pins change.
        f"venv={q(venv_root)}/venv-{requirements_digest[:16]}",
        'if [ ! -e "$venv/.complete" ]; then',
        f'  rm -rf "$venv" && {HOST_PYTHON} -m venv "$venv"',
        '  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check '
        f"-r app/{REQUIREMENTS}",
        '  touch "$venv/.complete"',
        "fi",
        "cd app",
        f"export DB_HOST={q(db_host)} DB_PORT={q(str(db_port))} DB_NAME={DATABASE} "
        f'DB_AUTH=secret DB_SECRET_ARN={q(secret_arn)} DB_SSL_CA="$work/rds-ca.pem"',
        '"$venv/bin/python" -m ops.hostdb wait',
        '"$venv/bin/python" -m ops migrate',
        '"$venv/bin/python" -m ops.hostdb users',
    ]


def run(args, ctx):
    stage = args.stage
    stack = infra_stack(stage)
    host, db_host, db_port, secret_arn = require(
        stack_outputs(ctx, stack),
        stack,
        "HostInstanceId",
        "DbClusterEndpoint",
        "DbClusterPort",
        "DbMasterSecretArn",
    )
    (bucket,) = require(stack_outputs(ctx, BOOTSTRAP_STACK), BOOTSTRAP_STACK, "ArtifactsBucket")
    data, digest = build_bundle()
    key = f"migrations/{stage}/{digest}.zip"
    upload(ctx, bucket, key, data)
    region = ctx.client("ssm").meta.region_name
    # The host verifies TLS to the cluster with the region's RDS CA bundle. A first deploy
    # migrates before deploy-api ever ran, so this run puts the bundle there itself.
    _, ca_sha256 = artifacts.upload_rds_ca_bundle(
        ctx, bucket, region, ctx.fetch or artifacts.fetch_url, args.rds_ca_bundle
    )
    ssm.require_online(ctx, [host], label="migrate")
    script = remote_script(
        bucket=bucket,
        key=key,
        digest=digest,
        requirements_digest=requirements_digest(),
        region=region,
        db_host=db_host,
        db_port=db_port,
        secret_arn=secret_arn,
        ca_sha256=ca_sha256,
    )
    result = ssm.send_and_wait(
        ctx,
        DOCUMENT,
        [host],
        {"commands": script, "executionTimeout": [str(int(args.timeout))]},
        comment=f"ops migrate {stage} {digest[:12]}",
        timeout=args.timeout,
        label="migrate",
    )
    inv = result.invocations[host]
    for line in inv.stdout.splitlines():
        ctx.say(f"  {line}")
    for line in inv.stderr.splitlines():
        ctx.warn(f"  {line}")
    if not inv.ok:
        last = next((ln for ln in reversed(inv.stderr.splitlines()) if ln.strip()), "")
        code = f", exit code {inv.response_code}" if inv.response_code is not None else ""
        reason = f": {last.strip()}" if last else (f": {inv.details}" if inv.details else "")
        raise OpsError(f"migrate: {stage} migration on {host} {inv.status}{code}{reason}")
    ctx.say(f"migrate: {stage} database migrated and its users applied (bundle {digest[:12]})")
    return 0


def upload(ctx, bucket, key, data):
    s3 = ctx.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
        ctx.say(f"migrate: s3://{bucket}/{key} is already there")
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise OpsError(f"migrate: cannot read s3://{bucket}/{key}: {exc}") from exc
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    except ClientError as exc:
        raise OpsError(f"migrate: cannot upload s3://{bucket}/{key}: {exc}") from exc
    ctx.say(f"migrate: uploaded s3://{bucket}/{key} ({len(data)} bytes)")
