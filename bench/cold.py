"""Cold start: a fresh interpreter per sample, as a new Lambda container starts one.

Each sample is a new ``python -I`` process (no user site, no ``PYTHON*`` variables, no current
directory on ``sys.path``) whose ``sys.path`` starts with the task root, as Lambda's does with
``/var/task``. Kinds, run interleaved (one of each, then again) and summarised by their medians:

* ``python``: the interpreter alone, for scale;
* ``baseline``: ``import chalice, pymysql`` and nothing else (the least a Chalice + pymysql
  Lambda can do);
* ``chalice``: import the handler module (``chalice_app/app.py``) and serve its first request,
  which opens the database connection;
* ``flask``: the same for the Flask peer (``bench/flask_peer.py`` behind apig-wsgi).

Each process reports the time its imports took and the time its first request took (measured
inside it with ``perf_counter``); the parent measures the whole process from spawn to exit.
Bytecode caches are warm (the venv's ``__pycache__``), the same for every kind.
"""

import ast
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHALICE_APP = REPO / "chalice_app"
BENCH = REPO / "bench"

# Run in the child. argv: kind, task root, extra path, event (JSON).
_CHILD = r"""
import sys, time
started = time.perf_counter()
kind, root, extra, event_json = sys.argv[1:5]
sys.path[0:0] = [p for p in (root, extra) if p]
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
    class Context:
        aws_request_id = "cold-start"
        function_name = "pets-dev-api"
        def get_remaining_time_in_millis(self):
            return 5000
    status = handler(json.loads(event_json), Context())["statusCode"]
served = time.perf_counter()
sys.stderr.write("COLD %r %r %r\n" % (imported - started, served - imported, status))
"""

KINDS = ["python", "baseline", "chalice", "flask"]


def _command(kind, event):
    root, extra = {
        "python": ("", ""),
        "baseline": ("", ""),
        "chalice": (str(CHALICE_APP), ""),
        "flask": (str(BENCH), str(CHALICE_APP)),
    }[kind]
    return [sys.executable, "-I", "-c", _CHILD, kind, root, extra, json.dumps(event)]


def _sample(kind, event, env):
    command = _command(kind, event)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    lines = [line for line in done.stderr.splitlines() if line.startswith("COLD ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"cold start {kind} failed ({done.returncode}): {done.stderr[-2000:]}")
    imported, served, status = (ast.literal_eval(part) for part in lines[-1].split()[1:4])
    if kind in ("chalice", "flask") and status != 200:
        raise RuntimeError(f"cold start {kind}: first request answered {status}")
    return {"wall_ms": wall * 1000, "import_ms": imported * 1000, "first_request_ms": served * 1000}


def measure(settings, event, repeats):
    """Return ``{kind: {median wall_ms, import_ms, first_request_ms, runs}}``."""
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
    for kind in KINDS:  # one unmeasured run each: bytecode caches written, files in page cache
        _sample(kind, event, env)
    runs = {kind: [] for kind in KINDS}
    for _ in range(repeats):
        for kind in KINDS:
            runs[kind].append(_sample(kind, event, env))
    summary = {}
    for kind, samples in runs.items():
        summary[kind] = {
            metric: round(statistics.median(s[metric] for s in samples), 2)
            for metric in ("wall_ms", "import_ms", "first_request_ms")
        }
        summary[kind]["runs"] = len(samples)
    return summary
