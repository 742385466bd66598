"""Amazon Linux 2023 releases: which is the newest AWS publishes, and how two compare.

AWS publishes the newest AL2023 image under public SSM parameters
(``/aws/service/ami-amazon-linux-latest/...``); the image's name carries its release, the
version dnf's ``releasever`` takes (``al2023-ami-2023.9.20251117.0-kernel-6.1-arm64`` is release
``2023.9.20251117``). An image's release is its ``system-release`` package's version, and every
release has its own locked package repositories (docs/patching.md).
"""

import re

from botocore.exceptions import ClientError

from ops.aws.errors import reason
from ops.errors import OpsError

# The parameter the infra stack's HostImage defaults to: one release, whatever the architecture.
LATEST_IMAGE_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
RELEASE = re.compile(r"\b(2023\.\d+\.\d{8})(?:\.\d+)?\b")


def parse(text):
    """The release version in ``text`` (an image name or description), or None."""
    found = RELEASE.search(text or "")
    return found.group(1) if found else None


def key(release):
    """A sort key: ``2023.10.20260105`` is newer than ``2023.9.20251117``."""
    return tuple(int(part) for part in release.split("."))


def newest(ctx, parameter=LATEST_IMAGE_PARAMETER):
    """``(release, image id, image name)`` of the image AWS names as the newest AL2023."""
    try:
        image_id = ctx.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        images = ctx.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    except ClientError as exc:
        raise OpsError(f"cannot read the newest Amazon Linux 2023 image: {reason(exc)}") from exc
    if not images:
        raise OpsError(f"{parameter} names {image_id}, which DescribeImages does not know")
    name = images[0].get("Name", "")
    release = parse(name) or parse(images[0].get("Description", ""))
    if release is None:
        raise OpsError(f"no release version in the name of {image_id} ({name!r})")
    return release, image_id, name
