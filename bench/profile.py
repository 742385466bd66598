"""Where the time goes, for docs/performance.md: a warm-path profile and the cold-start imports.

* Warm path: pyinstrument (a sampling, wall-clock profiler) over thousands of requests to the
  Chalice handler, so the time spent waiting for the database shows next to the time spent in
  Python, frame by frame.
* Cold start: ``python -X importtime`` in the Lambda-like task root (see ``cold``), importing
  chalice and pymysql first and then the handler module, so what is listed after them is exactly
  what the API adds to the baseline. Medians over several runs.
"""

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def warm_profile(contender, names, interval=0.001):
    """pyinstrument's text report for ``contender`` serving ``names``.

    Chalice's frames are shown (pyinstrument hides library code by default) because what
    Chalice costs per request is the question; pymysql's are folded into ``Cursor.execute``.
    """
    from pyinstrument import Profiler  # noqa: PLC0415 -- a dev tool, loaded only to profile

    requests = [contender.prepare(name) for name in names]
    for request in requests[:200]:
        contender.call(request)
    profiler = Profiler(interval=interval)
    profiler.start()
    for request in requests:
        contender.call(request)
    profiler.stop()
    text = profiler.output_text(
        unicode=True,
        color=False,
        show_all=False,
        processor_options={"show_regex": r".*chalice[\\/]app\.py.*"},
    )
    # The header names where the profile started as an absolute path of this checkout.
    return text.replace(f"{ROOT}{os.sep}", "")


def app_imports(task_root, runs=7):
    """``[(module, self_us, cumulative_us)]`` the handler module imports beyond chalice+pymysql."""
    code = (
        f"import sys; sys.path.insert(0, {str(task_root)!r}); import chalice, pymysql; import app"
    )
    samples = {}
    order = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 -- the venv's python, fixed arguments, no shell
            [sys.executable, "-I", "-S", "-B", "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        lines = done.stderr.splitlines()
        last_dependency = max(
            i for i, line in enumerate(lines) if line.endswith(("| chalice", "| pymysql"))
        )
        for line in lines[last_dependency + 1 :]:
            match = _IMPORT_LINE.match(line)
            if not match:
                continue
            key = ((len(match.group(3)) - 1) // 2, match.group(4))
            if key not in samples:
                samples[key] = []
                order.append(key)
            samples[key].append((int(match.group(1)), int(match.group(2))))
    return [
        (
            "  " * depth + name,
            statistics.median(s for s, _ in samples[(depth, name)]),
            statistics.median(c for _, c in samples[(depth, name)]),
        )
        for depth, name in order
    ]
