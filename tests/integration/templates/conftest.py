"""Fixtures for the template tests: the templates, parsed once per session; the stacks of both
stages as IAM sees them in one account, and the IAM evaluator (tests/support/iam.py).

The API stack is tested as deployed: ``chalice package`` merged with cloudformation/api/merge.yaml
(exactly what ``make package`` produces), written to a temporary directory.
"""

import io
import os

import pytest
import yaml

from ops import stages
from ops.cfn.packaging import package
from ops.context import Context
from tests.support.iam import IamSimulator
from tests.support.identities import OWNER, REPO, Account
from tests.support.templates import load


@pytest.fixture(scope="session")
def infra():
    return load("infra.yaml")


@pytest.fixture(scope="session")
def bootstrap():
    """The stage bootstrap template (one instance per stage)."""
    return load("bootstrap-stage.yaml")


@pytest.fixture(scope="session")
def account_bootstrap():
    return load("bootstrap-account.yaml")


def _stage_parameters(stage):
    """What ops sends each stage's bootstrap stack, so a stage has the roles it would get (the
    plan role where pull requests preview, the release role where host releases are read)."""
    if stage is None:
        return {}
    return stages.bootstrap_stack(stage, OWNER, REPO).parameters


@pytest.fixture(scope="session")
def account():
    """Every stack of every stage in one account (topology b), as IAM sees them."""
    return Account(stages.NAMES, parameters=_stage_parameters)


@pytest.fixture(scope="session")
def simulator():
    sim = IamSimulator()
    yield sim
    sim.close()


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
