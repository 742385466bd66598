"""Cold start: a fresh interpreter per sample, loading code as a new Lambda container does.

Lambda starts ``/var/task`` from the deployment zip: the handler module, ``chalicelib``, the
chalice runtime (only ``chalice/__init__.py`` and ``chalice/app.py``) and the vendored
``pymysql``, with no ``.pyc`` files, on a read-only disk, so that code is compiled again at every
cold start. Each task root here is built the same way, copied out of the venv into a temporary
folder (the Flask peer's holds Flask and its dependencies, apig-wsgi and pymysql instead of
chalice), and each sample is ``python -I -S -B`` (no site-packages, no ``PYTHON*`` variables,
no bytecode written) with the task root first on ``sys.path``: only the standard library and
the task root are importable, as in Lambda, and nothing installed in the venv for other reasons
(cryptography, which pymysql would pick up) leaks into the measurement.

Kinds, run interleaved (one of each, then again) and summarised by their medians:

* ``python``: the interpreter alone, for scale;
* ``baseline``: ``import chalice, pymysql`` from the chalice task root, nothing else (the least
  a Chalice + pymysql Lambda can do);
* ``chalice``: import the handler module (``app.py``) and serve its first request, which opens
  the database connection;
* ``flask``: the same for the Flask peer (``bench/flask_peer.py`` behind apig-wsgi).

The figure that counts is ``ready_ms``: from spawning the process to the first response being
ready (for ``baseline``: to the imports being done), read on ``CLOCK_MONOTONIC``, which parent
and child share. That is what Lambda makes a caller wait for (init, then the first invoke). The
process's exit is not: a Lambda container is not torn down after its first request, and
interpreter teardown differs from kind to kind, so ``exit_ms`` is reported but not judged.
Each process also reports the time its imports took and the time its first request took
(``perf_counter`` inside it).
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHALICE_APP = REPO / "chalice_app"
BENCH = REPO / "bench"

# The Lambda context object both children hand the handler. They run isolated (-I, only the
# task root importable), so tests.support.events.LambdaContext cannot be imported there; this is
# the least of it that the handler reads, defined before the clock starts.
_CONTEXT = r"""
class Context:
    aws_request_id = "cold-start"
    function_name = "pets-dev-api"
    def get_remaining_time_in_millis(self):
        return 5000
"""

# Run in the child. argv: kind, task root ("" for none), event (JSON).
_CHILD = r"""
import sys, time
started = time.perf_counter()
kind, root, event_json = sys.argv[1:4]
if root:
    sys.path.insert(0, root)
if kind == "python":
    imported = time.perf_counter()
    status = None
elif kind == "baseline":
    import chalice, pymysql
    imported = time.perf_counter()
    status = None
else:
    import json
    if kind == "chalice":
        import app
        handler = app.app
    else:
        import flask_peer
        handler = flask_peer.handler
    imported = time.perf_counter()
    status = handler(json.loads(event_json), Context())["statusCode"]
served = time.perf_counter()
ready = time.clock_gettime(time.CLOCK_MONOTONIC)
sys.stderr.write("COLD %r %r %r %r\n" % (imported - started, served - imported, status, ready))
"""

KINDS = ["python", "baseline", "chalice", "flask"]
METRICS = ("ready_ms", "import_ms", "first_request_ms", "exit_ms")


CHALICE_DISTS = ["PyMySQL"]
FLASK_DISTS = [
    "Flask",
    "Werkzeug",
    "Jinja2",
    "MarkupSafe",
    "itsdangerous",
    "click",
    "blinker",
    "apig-wsgi",
    "PyMySQL",
]


def build_task_roots(base):
    """Lay out the chalice and Flask task roots under ``base``; return ``{name: path}``."""
    base = Path(base)
    chalice_root, flask_root = base / "chalice", base / "flask"
    for root in (chalice_root, flask_root):
        _copy_tree(CHALICE_APP / "chalicelib", root / "chalicelib")
    shutil.copy2(CHALICE_APP / "app.py", chalice_root / "app.py")
    runtime = Path(importlib.util.find_spec("chalice").origin).parent
    (chalice_root / "chalice").mkdir()
    for name in ("__init__.py", "app.py"):  # all that chalice package puts in the zip
        shutil.copy2(runtime / name, chalice_root / "chalice" / name)
    shutil.copy2(BENCH / "flask_peer.py", flask_root / "flask_peer.py")
    for root, dists in ((chalice_root, CHALICE_DISTS), (flask_root, FLASK_DISTS)):
        for dist in dists:
            _copy_distribution(dist, root)
    return {"chalice": chalice_root, "flask": flask_root}


def _copy_tree(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _copy_distribution(name, root):
    # What ``pip install --target`` would put there; bytecode left out, as in a chalice zip.
    dist = importlib.metadata.distribution(name)
    for file in dist.files or []:
        parts = Path(file).parts
        if parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
            continue
        target = root / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file.locate(), target)


def _command(kind, event, roots):
    root = str(roots["flask" if kind == "flask" else "chalice"]) if kind != "python" else ""
    script = _CONTEXT + _CHILD
    return [sys.executable, "-I", "-S", "-B", "-c", script, kind, root, json.dumps(event)]


def _sample(kind, event, env, roots):
    command = _command(kind, event, roots)
    spawned = time.clock_gettime(time.CLOCK_MONOTONIC)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    wall = time.clock_gettime(time.CLOCK_MONOTONIC) - spawned
    lines = [line for line in done.stderr.splitlines() if line.startswith("COLD ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"cold start {kind} failed ({done.returncode}): {done.stderr[-2000:]}")
    imported, served, status, ready = (ast.literal_eval(p) for p in lines[-1].split()[1:5])
    if kind in ("chalice", "flask") and status != 200:
        raise RuntimeError(f"cold start {kind}: first request answered {status}")
    return {
        "ready_ms": (ready - spawned) * 1000,
        "import_ms": imported * 1000,
        "first_request_ms": served * 1000,
        "exit_ms": wall * 1000,
    }


def measure(settings, event, repeats, roots):
    """Return ``{kind: {median of each of METRICS, runs}}``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "PYTHON"))}
    env.update(
        {
            "DB_HOST": settings.host,
            "DB_PORT": str(settings.port),
            "DB_USER": settings.user,
            "DB_PASSWORD": settings.password,
            "DB_NAME": settings.database,
            "DB_AUTH": "password",
        }
    )
    runs = {kind: [] for kind in KINDS}
    for kind in KINDS:  # one unmeasured run each, so every file is in the page cache
        _sample(kind, event, env, roots)
    for _ in range(repeats):
        for kind in KINDS:
            runs[kind].append(_sample(kind, event, env, roots))
    summary = {}
    for kind, samples in runs.items():
        summary[kind] = {
            metric: round(statistics.median(s[metric] for s in samples), 2) for metric in METRICS
        }
        summary[kind]["runs"] = len(samples)
    return summary


# The cold start in each DB_AUTH mode, through the handler module as Lambda loads it. In ``iam``
# mode the init prepares the signer (chalicelib.credentials.prepare) and the first connection
# signs an IAM token with stand-in credentials (offline: signing makes no call); the local
# database cannot check such a token, so the login itself then uses the bench user's password.
_AUTH_CHILD = r"""
import json, os, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
mode, event_json = sys.argv[2], sys.argv[3]
import app
from chalicelib import credentials
from chalicelib.db import connector
from chalicelib.settings import DbSettings
initialised = time.perf_counter()
password = DbSettings.from_env()._replace(auth="password")
signed = password._replace(host="pets.cluster-x.rds.amazonaws.com", auth="iam")
plain = connector(password)
def connect():
    if mode == "iam":
        assert credentials.get_credentials(signed)[1]
    return plain()
handler = app.create_app(settings=password, connect=connect)
status = handler(json.loads(event_json), Context())["statusCode"]
served = time.perf_counter()
sys.stderr.write("AUTH %r %r %r\n" % (initialised - started, served - initialised, status))
"""


def auth_modes(root, settings, event, repeats):
    """Medians of init and first-request ms per DB_AUTH mode, in fresh processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_", "PYTHON"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench-fake-key-id",
            "AWS_SECRET_ACCESS_KEY": "bench-fake-secret",  # pragma: allowlist secret
            "AWS_SESSION_TOKEN": "bench-fake-token",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DB_HOST": settings.host,
            "DB_PORT": str(settings.port),
            "DB_USER": settings.user,
            "DB_PASSWORD": settings.password,
            "DB_NAME": settings.database,
        }
    )
    script = _CONTEXT + _AUTH_CHILD
    samples = {"password": [], "iam": []}
    for index in range(repeats + 1):  # the first round only warms the page cache
        for mode in samples:
            done = subprocess.run(
                [sys.executable, "-I", "-B", "-c", script, str(root), mode, json.dumps(event)],
                env={**env, "DB_AUTH": mode},
                capture_output=True,
                text=True,
                timeout=60,
            )
            lines = [line for line in done.stderr.splitlines() if line.startswith("AUTH ")]
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"cold start in {mode} mode failed: {done.stderr[-2000:]}")
            init, first, status = (ast.literal_eval(p) for p in lines[-1].split()[1:4])
            if status != 200:
                raise RuntimeError(f"cold start in {mode} mode answered {status}")
            if index:
                samples[mode].append((init * 1000, first * 1000))
    return {
        mode: {
            "init_ms": round(statistics.median(s[0] for s in runs), 1),
            "first_request_ms": round(statistics.median(s[1] for s in runs), 1),
        }
        for mode, runs in samples.items()
    }
