"""The pure parts of the host's release as code: reading, comparing and rewriting the pin."""

import pytest

from ops.aws import al2023
from ops.commands.host_release import current_pin, repin
from ops.errors import OpsError

STAGES = 'A = 1\nHOST_OS_RELEASE = "2023.9.20251117"\nB = "HOST_OS_RELEASE = 1"\n'


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("al2023-ami-2023.9.20251117.0-kernel-6.1-arm64", "2023.9.20251117"),
        ("al2023-ami-2023.10.20260105.1-kernel-6.12-x86_64", "2023.10.20260105"),
        ("Amazon Linux 2023 AMI 2023.9.20251117.0 arm64 HVM kernel-6.1", "2023.9.20251117"),
        ("2023.9.20251117", "2023.9.20251117"),
        ("amzn2-ami-hvm-2.0.20251110.0-arm64-gp2", None),
        ("al2023-ami-2023.9.2025111-kernel", None),
        ("", None),
    ],
)
def test_the_release_is_read_from_an_image_name(text, release):
    assert al2023.parse(text) == release


def test_releases_compare_by_number_not_by_text():
    assert al2023.key("2023.10.20260105") > al2023.key("2023.9.20251117")
    assert al2023.key("2023.9.20251201") > al2023.key("2023.9.20251117")


def test_repin_changes_the_pin_line_and_nothing_else():
    assert current_pin(STAGES) == "2023.9.20251117"
    assert repin(STAGES, "2023.10.20260105") == STAGES.replace(
        '"2023.9.20251117"', '"2023.10.20260105"'
    )


@pytest.mark.parametrize(
    "text",
    ["A = 1\n", 'HOST_OS_RELEASE = "1"\nHOST_OS_RELEASE = "2"\n', '  HOST_OS_RELEASE = "1"\n'],
)
def test_a_file_without_exactly_one_pin_is_refused(text):
    with pytest.raises(OpsError, match="exactly once"):
        repin(text, "2023.10.20260105")
