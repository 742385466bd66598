"""``python -m ops migrate --stage S``: the same migrations, run on the stage's Aurora cluster.

The database sits in private subnets with no route from the internet, and its master password
lives in the RDS-managed secret. So the pipeline does not connect to it. Instead it ships the
code to the admin host (in the VPC, already allowed to reach the database) and runs it there
through SSM Run Command (docs/migrations.md compares this with a VPC Lambda and the Data API):

1. **Bundle** what runs on the host and nothing else: ``ops.host`` (the steps), ``ops.db`` (the
   migration engine), ``chalicelib`` (the API's connector, so both log in the same way), ``sql/``
   and ``requirements-migrate.txt`` (every package pinned), in a zip whose bytes depend only on
   the files' paths and contents, so the same tree gives the same SHA-256.
2. **Upload** it to the stage's artifacts bucket (``pets-bootstrap-<stage>`` output
   ``ArtifactsBucket``) as ``migrations/<sha256>.zip``, unless that key already holds it. Each
   stage has its own bucket: only the stage's deploy role writes it, and only the stage's host
   reads its migration bundles.
3. **Run** ``AWS-RunShellScript`` on the host (``pets-S-infra`` output ``HostInstanceId``), after
   checking it is SSM-managed and Online: download the bundle and check its SHA-256, download
   the RDS CA bundle (``rds-ca/<region>-<sha256>.pem``, uploaded by this run), take the venv
   for the bundle's pinned packages from ``pets-venv`` (which cfn-init installed and used at
   boot: cloudformation/infra.yaml; it builds a venv only for requirements the host has not
   seen yet, every file pip installs checked against its hash), wait for the cluster to answer,
   run the migrations, then apply the AWS-only users and grants
   (``python -m ops.host wait|migrate|users``).

The command text names the secret's ARN, never its value: the host's instance role reads the
secret (``DB_AUTH=secret``) inside AWS, and nothing prints it. The host's output is printed
here; a failure exits 1 with the host's status and the last line it wrote to stderr.
"""

import hashlib
import io
import shlex
import zipfile
from pathlib import Path

from ops import stages
from ops.aws import ssm
from ops.cfn import artifacts
from ops.cfn.stacks import require, stack_outputs
from ops.errors import OpsError

ROOT = Path(__file__).resolve().parents[2]
# Folders of the bundle: where they are in the repository -> where they go in the zip. The
# host runs ``python -m ops.host`` from the zip's root, where ``chalicelib`` is top-level as
# it is in the Lambda package.
BUNDLE_DIRS = {
    "ops/host": "ops/host",
    "ops/db": "ops/db",
    "chalice_app/chalicelib": "chalicelib",
    "sql": "sql",
}
BUNDLE_FILES = ("ops/__init__.py", "ops/errors.py")
BUNDLE_SUFFIXES = {".py", ".sql", ".txt"}
REQUIREMENTS = "requirements-migrate.txt"
DATABASE = "pets"
DOCUMENT = "AWS-RunShellScript"
# Installed by the host's cfn-init (cloudformation/infra.yaml): prints the venv of a
# requirements file, building it only the first time.
VENV_TOOL = "pets-venv"
# Zip entries carry a timestamp; a fixed one keeps the bundle's bytes (and name) reproducible.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def bundle_files(root=ROOT):
    """``{path in the zip: path in the repository}`` of the bundle, sorted by zip path."""
    root = Path(root)
    files = {REQUIREMENTS: REQUIREMENTS, **{name: name for name in BUNDLE_FILES}}
    for folder, target in BUNDLE_DIRS.items():
        for path in (root / folder).rglob("*"):
            if (
                path.is_file()
                and path.suffix in BUNDLE_SUFFIXES
                and "__pycache__" not in path.parts
            ):
                relative = path.relative_to(root / folder).as_posix()
                files[f"{target}/{relative}"] = path.relative_to(root).as_posix()
    return dict(sorted(files.items()))


def build_bundle(root=ROOT):
    """``(zip bytes, sha256 hex)`` of the bundle, byte-for-byte reproducible."""
    root = Path(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in bundle_files(root).items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / source).read_bytes())
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def remote_script(
    *,
    bucket,
    key,
    digest,
    region,
    db_host,
    db_port,
    secret_arn,
    ca_sha256,
    stage,
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
        # Only the bundle this run uploaded (its digest), whatever the key holds by then.
        f"echo {q(ca_sha256 + '  rds-ca.pem')} | sha256sum --check --quiet -",
        f"command -v {VENV_TOOL} >/dev/null 2>&1 || {{ echo 'migrate: this host was not set "
        f"up by cfn-init (no {VENV_TOOL}): deploy the infra stack (make deploy-infra)' >&2; "
        "exit 1; }",
        # The system python3 only unzips; the venv's python3.12 runs the bundle.
        "python3 -m zipfile -e bundle.zip app",
        f"venv=$({VENV_TOOL} app/{REQUIREMENTS})",
        "cd app",
        f"export DB_HOST={q(db_host)} DB_PORT={q(str(db_port))} DB_NAME={DATABASE} "
        f'DB_AUTH=secret DB_SECRET_ARN={q(secret_arn)} DB_SSL_CA="$work/rds-ca.pem"',
        '"$venv/bin/python" -m ops.host wait',
        '"$venv/bin/python" -m ops.host migrate',
        f'"$venv/bin/python" -m ops.host users --stage {q(stage)}',
    ]


def run(args, ctx):
    stage = args.stage
    stack = stages.stack_name(stage, "infra")
    host, db_host, db_port, secret_arn = require(
        stack_outputs(ctx, stack),
        stack,
        "HostInstanceId",
        "DbClusterEndpoint",
        "DbClusterPort",
        "DbMasterSecretArn",
    )
    bucket = stages.artifacts_bucket(ctx, stage)
    data, digest = build_bundle()
    key = f"migrations/{digest}.zip"
    artifacts.put_if_absent(ctx, bucket, key, data, label="the migration bundle")
    region = ctx.client("ssm").meta.region_name
    # The host verifies TLS to the cluster with the region's RDS CA bundle. A first deploy
    # migrates before deploy-api ever ran, so this run puts the bundle there itself.
    _, ca_sha256 = artifacts.upload_rds_ca_bundle(ctx, bucket, region, args.rds_ca_bundle)
    ssm.require_online(ctx, [host], label="migrate")
    script = remote_script(
        bucket=bucket,
        key=key,
        digest=digest,
        region=region,
        db_host=db_host,
        db_port=db_port,
        secret_arn=secret_arn,
        ca_sha256=ca_sha256,
        stage=stage,
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
