"""make run's venv is built from requirements-run.txt alone: ``ops run`` must work with only that.

Building that venv here would download packages, so the test does the next best thing: it runs
the real ``ops run`` (and, through the inherited environment, its API server) with an import
hook that makes every distribution outside requirements-run.txt and its dependencies look
uninstalled. An import the run needs from elsewhere fails, as it would in .venv-run, and an
optional one (pymysql's ``cryptography``) falls back, as it would there. One request is served
so that the app's lazy imports happen too.
"""

import importlib.metadata
import json
import os
import signal
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.db import db_env, scratch_database
from tests.support.processes import ROOT, finish, start_run, wait_ready
from tests.support.tcpproxy import free_port

# Imported first by every Python process that has its folder on PYTHONPATH.
BLOCKER = """
import importlib.abc, importlib.metadata, json, os, re, sys

ALLOWED = set(json.loads(os.environ["PETS_ALLOWED_DISTRIBUTIONS"]))
PROVIDERS = importlib.metadata.packages_distributions()


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class OnlyAllowed(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = PROVIDERS.get(top)
        if dists and not any(_canonical(d) in ALLOWED for d in dists):
            raise ModuleNotFoundError(f"No module named {name!r} (not in .venv-run)", name=name)
        return None


sys.meta_path.insert(0, OnlyAllowed())
"""


def requirement_names(path):
    names = set()
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= requirement_names(Path(path).parent / line[3:].strip())
        elif line:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def closure(names):
    """The distributions ``names`` install, with their dependencies (no extras)."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return found


def test_make_run_works_with_only_requirements_run(server_settings, tmp_path):
    allowed = closure(requirement_names(ROOT / "requirements-run.txt"))
    assert "moto" not in allowed and "boto3" not in allowed  # the dev toolchain stays out
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    port = free_port()
    with scratch_database(server_settings) as settings:
        env = db_env(
            settings, PYTHONPATH=path, PETS_ALLOWED_DISTRIBUTIONS=json.dumps(sorted(allowed))
        )
        process = start_run(env, port)
        try:
            wait_ready(process)
            url = f"http://127.0.0.1:{port}/api/pet/Fluffy"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert json.loads(response.read())["owner"] == "Harold"
        finally:
            process.send_signal(signal.SIGTERM)
            output = finish(process)
    assert process.returncode == 0, output
    assert "ModuleNotFoundError" not in output
