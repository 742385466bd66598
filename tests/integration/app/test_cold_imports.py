"""The handler module's import path stays free of what only AWS, or nothing, needs.

Every module imported at cold start is paid for by the first caller of every new Lambda
container (docs/performance.md). boto3 and botocore (~100 ms) are needed only for IAM tokens,
Secrets Manager and an S3-hosted CA, and tempfile (~5 ms with shutil, random, bz2 and lzma) only
for that CA download: all three are imported where they are used, never at import time.
"""

import json
import subprocess
import sys
from pathlib import Path

CHALICE_APP = Path(__file__).resolve().parents[3] / "chalice_app"
DEFERRED = ["boto3", "botocore", "tempfile", "shutil", "unicodedata"]


def test_importing_the_handler_leaves_the_deferred_modules_unloaded():
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import app; "
        "print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(CHALICE_APP), *DEFERRED],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
