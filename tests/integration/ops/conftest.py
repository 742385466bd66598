"""Fixtures for the ops command tests: moto in-process, a moto_server process, contexts."""

import os
import urllib.request

import pytest
from moto import mock_aws

from tests.support.aws import make_context, moto_server


@pytest.fixture
def aws():
    """moto in-process for one test (fake credentials come from tests/conftest.py)."""
    with mock_aws():
        yield


@pytest.fixture
def ctx(aws, tmp_path):
    """A Context over moto whose job summary goes to a file the test can read."""
    context = make_context(env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    context.summary_path = tmp_path / "summary.md"
    return context


@pytest.fixture(scope="session")
def moto_url():
    with moto_server() as url:
        yield url


@pytest.fixture
def server_env(moto_url):
    """Environment for a CLI subprocess talking to the moto_server, reset to empty first."""
    # The URL is the moto_server this fixture started on 127.0.0.1 (http on purpose).
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        AWS_ENDPOINT_URL=moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # pragma: allowlist secret -- moto's documented fake
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env
