"""The size of the API's deployment zip, as ``make package`` builds it.

``make package`` (``python -m ops package-api``) writes ``build/api/deployment.zip``; a full run
builds it afresh that way (chalice downloads the pymysql wheel from PyPI the first time, then
reuses its cache). The report counts any ``.pyc`` in the zip (``chalice package`` would zip a
working tree's ``__pycache__``; packaging removes them first) and lists what the zip holds,
top-level entry by entry, so a regression names its cause.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILT_ZIP = REPO / "build" / "api" / "deployment.zip"


def find_or_build(build=True):
    """Return ``(path, how)`` of the API zip, or ``(None, reason)`` when there is none.

    With ``build``, the zip is made afresh (a leftover build/api/deployment.zip may be stale).
    """
    if not build:
        if BUILT_ZIP.is_file():
            return BUILT_ZIP, "build/api/deployment.zip as found (not rebuilt in quick mode)"
        return None, "skipped: no build/api/deployment.zip and quick mode builds none"
    _run([sys.executable, "-m", "ops", "package-api", "--stage", "dev"], REPO)
    return BUILT_ZIP, "make package (python -m ops package-api --stage dev)"


def _run(command, cwd):
    # chalice package needs a region to name ARNs in the template; nothing is called in AWS.
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)


def describe(path):
    """Size of the zip and of each top-level entry in it (compressed bytes)."""
    entries = {}
    bytecode = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            top = info.filename.split("/", 1)[0]
            entries[top] = entries.get(top, 0) + info.compress_size
            if info.filename.endswith(".pyc"):
                bytecode.append((info.filename, info.compress_size))
    return {
        "bytes": path.stat().st_size,
        "kb": round(path.stat().st_size / 1024, 1),
        "entries_compressed_bytes": dict(sorted(entries.items(), key=lambda kv: -kv[1])),
        # .pyc in the zip come from a working tree's __pycache__, not from packaging on purpose.
        "pyc_files": len(bytecode),
        "pyc_compressed_bytes": sum(size for _, size in bytecode),
    }


def measure(build=True):
    """``{"how", "bytes", ...}`` for the API zip; a zip built here is deleted afterwards."""
    path, how = find_or_build(build)
    result = {"how": how, "bytes": None}
    if path is not None:
        result.update(describe(path))
        if path != BUILT_ZIP:
            shutil.rmtree(path.parent.parent, ignore_errors=True)
    return result
