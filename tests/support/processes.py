"""The project's own commands as subprocesses: ``python -m ops`` and ``make run``'s server."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None, timeout=120):
    """``python -m ops ARGS`` as a subprocess from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "ops", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result, *fragments, code=None):
    """A failed ``run_cli`` as the CLI promises it: a non-zero exit (``code``, if given), one
    line on stderr holding every fragment, and no traceback anywhere. Returns the line."""
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def start_run(env_extra, port):
    """``python -m ops run`` (what ``make run`` runs) in its own process group."""
    env = {**os.environ, "PORT": str(port), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "ops", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_ready(process, timeout=90):
    """The lines ``ops run`` printed up to its ready line; fails the test if it never came.

    From then on a thread keeps reading the output (``finish`` returns all of it), so a server
    that logs every request never blocks on a full pipe while the test is busy elsewhere.
    """
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ready on" in line:
            process.lines = lines
            process.drainer = threading.Thread(target=_drain, args=(process,), daemon=True)
            process.drainer.start()
            return list(lines)
    pytest.fail("ops run never became ready:\n" + "".join(lines))


def _drain(process):
    for line in process.stdout:
        process.lines.append(line)


def finish(process, timeout=60):
    """Wait for the process to end; return everything it printed."""
    drainer = getattr(process, "drainer", None)
    if drainer is None:
        output, _ = process.communicate(timeout=timeout)
        return output
    process.wait(timeout=timeout)
    drainer.join(timeout=timeout)
    return "".join(process.lines)
