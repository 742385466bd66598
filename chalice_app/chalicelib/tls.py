"""TLS to the database: where the CA bundle that verifies the server comes from.

Aurora requires TLS (``require_secure_transport``) and IAM authentication only works over it.
The RDS CA bundle is not in Lambda's trust store, and this repository cannot vendor it, so
``DB_SSL_CA`` is either a file path or ``s3://bucket/key``: the deploy puts the region's bundle
in the artifacts bucket and the Lambda fetches it once per container through the VPC's free S3
gateway endpoint. pymysql then verifies the certificate chain and the host name.
"""

import hashlib
import os

from .credentials import aws_client

_DOWNLOADED = {}


def ssl_options(settings, session_factory=None):
    """The ``ssl`` argument for ``pymysql.connect``: ``None`` when no CA is configured."""
    if not settings.ssl_ca:
        return None
    return {"ca": ca_file(settings.ssl_ca, session_factory, settings.ssl_ca_sha256)}


class UntrustedBundle(RuntimeError):
    """The downloaded CA bundle is not the one the deploy uploaded."""


def ca_file(location, session_factory=None, sha256=""):
    """A local path to the CA bundle at ``location``, downloaded once if it is ``s3://``.

    The bucket is shared by the stages, so ``sha256`` (``DB_SSL_CA_SHA256``, set by the deploy
    from the bytes it uploaded) is checked: a bundle someone replaced is refused, never trusted.
    """
    if not location.startswith("s3://"):
        return location
    if location not in _DOWNLOADED:
        bucket, _, key = location[len("s3://") :].partition("/")
        s3 = session_factory().client("s3") if session_factory else aws_client("s3")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if sha256 and hashlib.sha256(body).hexdigest() != sha256:
            raise UntrustedBundle(f"{location} does not have the SHA-256 the deploy recorded")
        # Deferred: tempfile pulls in shutil, random, bz2 and lzma, ~5 ms of every cold start,
        # and only an s3:// CA (once per container, in AWS) needs it.
        import tempfile  # noqa: PLC0415 -- see above

        name = "rds-ca-" + hashlib.sha256(location.encode()).hexdigest()[:16] + ".pem"
        path = os.path.join(tempfile.gettempdir(), name)
        with open(path, "wb") as handle:
            handle.write(body)
        _DOWNLOADED[location] = path
    return _DOWNLOADED[location]
