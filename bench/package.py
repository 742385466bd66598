"""The size of the API's deployment zip, as ``make package`` builds it.

``make package`` (``python -m ops package-api``) writes ``build/api/deployment.zip``. Where that
command is not available yet, the zip is built the way it builds it: ``chalice package`` into a
temporary folder (offline once chalice has cached the dependency wheels). The report lists what
the zip holds, top-level entry by entry, so a regression names its cause.
"""

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILT_ZIP = REPO / "build" / "api" / "deployment.zip"


def find_or_build(build=True):
    """Return ``(path, how)`` of the API zip, or ``(None, reason)`` when there is none."""
    if BUILT_ZIP.is_file():
        return BUILT_ZIP, "build/api/deployment.zip (make package)"
    if not build:
        return None, "skipped: no build/api/deployment.zip and building was not asked for"
    if (REPO / "ops" / "package_api.py").is_file():
        _run([sys.executable, "-m", "ops", "package-api", "--stage", "dev"], REPO)
        if BUILT_ZIP.is_file():
            return BUILT_ZIP, "build/api/deployment.zip (python -m ops package-api --stage dev)"
    out = Path(tempfile.mkdtemp(prefix="pets-bench-package-"))
    chalice = Path(sys.executable).parent / "chalice"
    _run([str(chalice), "package", "--stage", "dev", str(out)], REPO / "chalice_app")
    return (
        out / "deployment.zip",
        "chalice package --stage dev (ops package-api not on this branch)",
    )


def _run(command, cwd):
    # chalice package needs a region to name ARNs in the template; nothing is called in AWS.
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)


def describe(path):
    """Size of the zip and of each top-level entry in it (compressed bytes)."""
    entries = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            top = info.filename.split("/", 1)[0]
            entries[top] = entries.get(top, 0) + info.compress_size
    return {
        "bytes": path.stat().st_size,
        "kb": round(path.stat().st_size / 1024, 1),
        "entries_compressed_bytes": dict(sorted(entries.items(), key=lambda kv: -kv[1])),
    }
