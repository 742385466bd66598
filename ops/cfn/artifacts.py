"""Turning the offline package (``build/api``) into a template CloudFormation can deploy.

``make package`` writes ``build/api/sam.yaml`` whose functions point at ``./deployment.zip``
(``CodeUri``), a path only meaningful on the machine that packaged. Before a change set can be
made, every such local path is uploaded to the bootstrap ArtifactsBucket and replaced by its
``s3://`` URI (the job ``aws cloudformation package`` does).

Keys are content addressed (``api/<sha256>.zip``): the same artifact promoted from dev to prod is
one object, uploading it again is skipped, and a redeploy of an unchanged build yields "no
changes" instead of a new Lambda version. In a versioned bucket (the bootstrap's is) the
template pins the object version whose S3-verified SHA-256 matches the build (``upload``).

The rewritten template is JSON: the YAML's short-form tags are read as their long forms, which
CloudFormation reads identically.
"""

import base64
import hashlib
from pathlib import Path

from ops import http
from ops.aws.errors import is_missing_object
from ops.cfn import templates
from ops.errors import OpsError

# Properties that hold a local artifact path, by resource type (as `aws cloudformation package`).
ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
}
RDS_CA_URL = "https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem"
# RDS Proxy presents an ACM certificate, not an RDS one: its clients verify it with the Amazon
# Trust Services roots (Aurora User Guide, "Using TLS/SSL with RDS Proxy").
AMAZON_TRUST_ROOT_URLS = tuple(
    f"https://www.amazontrust.com/repository/{name}.pem"
    for name in ("AmazonRootCA1", "AmazonRootCA2", "AmazonRootCA3", "AmazonRootCA4", "SFSRootCAG2")
)


def artifact_key(path, prefix="api"):
    """``<prefix>/<sha256><suffix>``: where the content of ``path`` lives in the bucket."""
    data = Path(path).read_bytes()
    return f"{prefix}/{hashlib.sha256(data).hexdigest()}{Path(path).suffix}"


def upload(ctx, bucket, path, prefix="api"):
    """Put ``path``'s bytes at their content-addressed key; return ``(key, version id)``."""
    key = artifact_key(path, prefix)
    data = Path(path).read_bytes()
    return key, put_if_absent(ctx, bucket, key, data, label=Path(path).name)


def put_if_absent(ctx, bucket, key, data, label=None, content_type=None):
    """Make sure ``key`` holds exactly ``data``; return the version id that does.

    The object is reused only when S3's own SHA-256 checksum of it equals that of ``data`` (S3
    verifies the checksum a client sends, so it cannot be forged); anything else at that key, such
    as an object someone overwrote, is replaced by a new upload. The version id (``None`` in an
    unversioned bucket) lets a template or a reader pin that exact object version, so a later
    overwrite cannot change what a stage runs.
    """
    found = existing_version(ctx, bucket, key, data)
    if found is not _MISSING:
        ctx.say(f"already uploaded: s3://{bucket}/{key}")
        return found
    extra = {"ContentType": content_type} if content_type else {}
    answer = ctx.client("s3").put_object(
        Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256",
        ChecksumSHA256=_sha256_b64(data), **extra,
    )  # fmt: skip
    ctx.say(f"uploaded {label or key} ({len(data):,} bytes) to s3://{bucket}/{key}")
    return answer.get("VersionId")


_MISSING = object()


def existing_version(ctx, bucket, key, data):
    """The version id of the object at ``key`` if it holds exactly ``data``, else ``_MISSING``.

    Without s3:ListBucket, S3 answers HEAD on a missing key with 403, not 404; both mean
    "upload it" (an object that really is unreadable fails at the upload with its own error).
    """
    try:
        head = ctx.client("s3").head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except Exception as exc:
        if not is_missing_object(exc, forbidden_means_missing=True):
            raise
        return _MISSING
    if head.get("ChecksumSHA256") != _sha256_b64(data):
        ctx.say(f"s3://{bucket}/{key} does not hold these bytes; uploading them again")
        return _MISSING
    return head.get("VersionId")


def holds(ctx, bucket, key, data, version=None):
    """Whether ``key`` (its ``version``, when one is named) holds exactly ``data``, by S3's own
    SHA-256 checksum."""
    request = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version and version != "null":
        request["VersionId"] = version
    try:
        head = ctx.client("s3").head_object(**request)
    except Exception as exc:
        if not is_missing_object(exc, forbidden_means_missing=True):
            raise
        return False
    return head.get("ChecksumSHA256") == _sha256_b64(data)


def version_holding(ctx, bucket, key, data):
    """The version id of ``key`` if it holds exactly ``data``; ``None`` otherwise."""
    found = existing_version(ctx, bucket, key, data)
    return None if found is _MISSING else found


def _sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _deployed_version(deployed, logical_id, prop, bucket, key):
    """The version the deployed template pins for this very object, if it does.

    The plan role may not read ``api/*``; the deployed template (GetTemplate) already says which
    version a build with this content-addressed key runs, so an unchanged build plans as no change.
    """
    resources = (deployed or {}).get("Resources") or {}
    location = ((resources.get(logical_id) or {}).get("Properties") or {}).get(prop)
    if isinstance(location, dict) and (location.get("Bucket"), location.get("Key")) == (
        bucket,
        key,
    ):
        return location.get("Version")
    return None


def code_location(bucket, key, version):
    """A SAM artifact location: pinned to ``version`` when the bucket keeps versions."""
    if version and version != "null":
        return {"Bucket": bucket, "Key": key, "Version": version}
    return f"s3://{bucket}/{key}"


def packaged_template(ctx, template_path, bucket, upload_artifacts=True, deployed=None, named=None):
    """Upload the local artifacts ``template_path`` names; return the rewritten template (JSON).

    With ``upload_artifacts=False`` (plan, preview) nothing is uploaded: the URIs name the keys a
    deploy would upload to. A change set does not read the code object (Lambda does, at
    execution), so the plan needs no write access, and an unchanged build shows no change.
    ``named``, a list, receives ``(key, local path, version)`` of every artifact named.
    """
    template_path = Path(template_path)
    if not template_path.is_file():
        raise OpsError(
            f"no packaged API at {template_path}: run make package "
            "(python -m ops package-api) first"
        )
    _, template = templates.read(template_path)
    rewritten = 0
    for logical_id, resource in template["Resources"].items():
        prop = ARTIFACT_PROPERTIES.get(resource.get("Type"))
        properties = resource.get("Properties") or {}
        value = properties.get(prop) if prop else None
        if not isinstance(value, str) or value.startswith("s3://") or "://" in value:
            continue
        local = (template_path.parent / value).resolve()
        if not local.is_file():
            raise OpsError(
                f"{logical_id}.{prop} names {value}, which is not in {template_path.parent}"
            )
        if upload_artifacts:
            key, version = upload(ctx, bucket, local)
        else:  # plan: read-only; name the version a deploy would reuse, if it is there already
            key = artifact_key(local)
            version = _deployed_version(deployed, logical_id, prop, bucket, key)
            if version is None:
                found = existing_version(ctx, bucket, key, local.read_bytes())
                version = None if found is _MISSING else found
        properties[prop] = code_location(bucket, key, version)
        if named is not None:
            named.append((key, local, version))
        rewritten += 1
    if not rewritten:
        ctx.say(f"{template_path.name}: no local artifacts to upload")
    elif not upload_artifacts:
        ctx.say(f"{template_path.name}: {rewritten} artifact(s) named by content; not uploaded")
    return templates.to_json(template)


def rds_ca_key(region, digest):
    """The bundle's key, content-addressed.

    A stage keeps reading the bundle it was deployed with, even after another stage's deploy
    uploads a newer one; cloudformation/api/merge.yaml builds the same key from the digest.
    """
    return f"rds-ca/{region}-{digest}.pem"


def upload_rds_ca_bundle(ctx, bucket, region, bundle_file=None, proxy=False):
    """Put the RDS CA bundle of ``region`` at ``s3://bucket/rds-ca/<region>-<sha256>.pem``.

    The API reads it through ``DB_SSL_CA`` (an ``s3://`` value) to verify Aurora's TLS
    certificate, and the admin host to migrate. ``bundle_file`` uses a local copy instead of
    downloading it (through ``ctx.fetch``). With ``proxy`` (the API connects through RDS Proxy)
    the Amazon Trust Services roots are added, which verify the proxy's certificate. Returns
    ``(uri, sha256 hex)``: the readers check the digest, because both stages' deploy roles may
    write this key.
    """
    key, data, label = rds_ca_bundle(ctx, region, bundle_file, proxy)
    put_if_absent(ctx, bucket, key, data, label, "text/plain")
    return f"s3://{bucket}/{key}", hashlib.sha256(data).hexdigest()


def rds_ca_bundle(ctx, region, bundle_file=None, proxy=False):
    """``(key, bytes, label)`` of the bundle ``upload_rds_ca_bundle`` uploads; nothing uploaded."""
    url = RDS_CA_URL.format(region=region)
    data = Path(bundle_file).read_bytes() if bundle_file else http.get_body(ctx.fetch, url)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise OpsError(f"the RDS CA bundle from {bundle_file or url} holds no PEM certificate")
    label = f"the RDS CA bundle for {region}"
    if proxy:
        for root_url in AMAZON_TRUST_ROOT_URLS:
            root = http.get_body(ctx.fetch, root_url)
            if b"-----BEGIN CERTIFICATE-----" not in root:
                raise OpsError(f"{root_url} holds no PEM certificate")
            data = data.rstrip(b"\n") + b"\n" + root
        label += " and the Amazon Trust Services roots (RDS Proxy)"
    return rds_ca_key(region, hashlib.sha256(data).hexdigest()), data, label
