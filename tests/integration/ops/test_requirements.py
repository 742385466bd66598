"""What the jobs holding AWS credentials, and the admin host, install: requirements-ops.txt and
requirements-migrate.txt, every file checked against its SHA-256 (pip --require-hashes).

Both are pinned to the versions this suite runs with, and requirements-ops.txt is enough for
every ops command those jobs run: each is started here with only the pinned packages importable.
"""

import importlib.metadata
import os
import subprocess
import sys

import pytest

from tests.support.requirements import ROOT, pinned_site, pins

FILES = ("requirements-ops.txt", "requirements-migrate.txt")
# What the workflows' jobs run (make targets and ops bootstrap), each with --help.
JOB_COMMANDS = (
    "bootstrap",
    "plan",
    "deploy-infra",
    "migrate",
    "deploy-api",
    "smoke",
    "drift",
    "patch",
    "destroy",
)


@pytest.mark.parametrize("name", FILES)
def test_every_requirement_of_ops_and_the_host_is_pinned_with_hashes(name):
    found = pins(ROOT / name)
    assert len(found) >= 10
    for dist, (version, hashes) in found.items():
        assert version, f"{dist} is not pinned with =="
        assert hashes and all(len(h) == 64 for h in hashes), f"{dist} has no sha256 hash"
        assert importlib.metadata.version(dist) == version, f"{dist}: the tests run another version"


def test_the_ops_set_is_the_host_set_and_the_template_reader():
    ops, host = pins(ROOT / "requirements-ops.txt"), pins(ROOT / "requirements-migrate.txt")
    assert set(ops) - set(host) == {"PyYAML"}
    for needed in ("PyMySQL", "yoyo-migrations", "boto3", "sqlparse"):
        assert needed in host


@pytest.mark.parametrize("command", JOB_COMMANDS)
def test_each_job_command_starts_with_only_the_pinned_packages(tmp_path, command):
    site = pinned_site(tmp_path / "site", ROOT / "requirements-ops.txt")
    path = os.pathsep.join([str(site), str(ROOT), str(ROOT / "chalice_app")])
    done = subprocess.run(
        [sys.executable, "-S", "-m", "ops", command, "--help"],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"python -m ops {command}" in done.stdout
