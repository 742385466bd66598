"""SnapStart: the IAM signer is loaded during init, and no credentials survive a restore.

Each case runs in a fresh interpreter, as a new Lambda environment does. "Restore" is what the
runtime does after resuming a snapshot: it calls every hook registered with
``snapshot_restore_py.register_after_restore``, here through the real library.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

CHALICE_APP = Path(__file__).resolve().parents[3] / "chalice_app"

_CHILD = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from urllib.parse import unquote
import app  # the init: with DB_AUTH=iam it prepares the signer
from chalicelib import credentials
from chalicelib.settings import DbSettings
import snapshot_restore_py

settings = DbSettings(host="pets.cluster-x.rds.amazonaws.com", user="pets_api", auth="iam")
def signer_key():
    token = unquote(credentials.get_credentials(settings)[1])
    return token.split("X-Amz-Credential=")[1].split("/")[0]

result = {"loaded_at_init": "botocore.client" in sys.modules,
          "signing_clients_at_init": sorted(credentials._AWS["clients"])}
result["first"] = signer_key()
os.environ["AWS_ACCESS_KEY_ID"] = "AKIDAFTERRESTORE"
result["warm"] = signer_key()
for func, args, kwargs in snapshot_restore_py.get_after_restore():
    func(*args, **kwargs)
result["restored"] = signer_key()
print(json.dumps(result))
"""


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_", "PYTHON"))}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDBEFORESNAPSHOT",
        AWS_SECRET_ACCESS_KEY="fake-secret",  # pragma: allowlist secret -- signs offline only
        AWS_SESSION_TOKEN="fake-token",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        DB_AUTH="iam",
        **extra,
    )
    return env


def test_the_signer_is_loaded_at_init_and_credentials_are_read_again_after_a_restore():
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD, str(CHALICE_APP)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {
        "loaded_at_init": True,
        "signing_clients_at_init": [],  # nothing that holds credentials is in the snapshot
        "first": "AKIDBEFORESNAPSHOT",
        "warm": "AKIDBEFORESNAPSHOT",  # a warm container keeps its client, as before
        "restored": "AKIDAFTERRESTORE",  # after a restore the credentials are read afresh
    }


def test_init_reads_no_credentials_at_all():
    """With none to be found, the init still prepares the signer: it never asked for them."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import app; "
        "from chalicelib import credentials; print('session' in credentials._AWS)"
    )
    env = _env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        del env[name]
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(CHALICE_APP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["True"]
    assert "could not prepare" not in done.stdout + done.stderr


def test_without_the_runtime_hooks_library_the_module_still_loads():
    """-S: no site-packages, so no snapshot_restore_py (as outside Lambda's managed runtime)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from chalicelib import credentials; "
        "assert 'snapshot_restore_py' not in sys.modules; "
        "f = lambda: None; print(credentials.register_after_restore(f) is f)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(CHALICE_APP)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["True"]
