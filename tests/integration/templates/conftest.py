"""Fixtures for the template tests: the three templates, parsed once per session.

The API stack is tested as deployed: ``chalice package`` merged with cloudformation/api/merge.yaml
(exactly what ``make package`` produces), written to a temporary directory.
"""

import io
import os

import pytest
import yaml

from ops.cfn.packaging import package
from ops.context import Context
from tests.support.templates import load


@pytest.fixture(scope="session")
def infra():
    return load("infra.yaml")


@pytest.fixture(scope="session")
def bootstrap():
    return load("bootstrap.yaml")


@pytest.fixture(scope="session")
def packaged_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "api"
    # No AWS variable at all (no credentials, no region): packaging must not need AWS.
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    ctx = Context(out=io.StringIO(), err=io.StringIO(), env=env)
    package("dev", out, ctx)
    return out


@pytest.fixture(scope="session")
def api(packaged_dir):
    return yaml.safe_load((packaged_dir / "sam.yaml").read_text())
