"""``python -m ops run`` (what ``make run`` runs): the API on a real database, on one machine.

Steps: find or start a database, create the database if missing, migrate, load the sample pets,
then serve with ``chalice local`` on 127.0.0.1:PORT until Ctrl-C, stopping what it started.
"""

import subprocess
import sys
import time
from pathlib import Path

from chalicelib.settings import DbSettings
from ops.db.admin import create_database, load_sample
from ops.db.migrate import MIGRATIONS_DIR, migrate
from ops.errors import OpsError
from ops.local.mariadb import PrivateServer
from ops.local.ports import reachable

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def add_arguments(parser):
    parser.description = (
        "Use the database at DB_HOST:DB_PORT, or start a private MariaDB there; create "
        "DB_NAME, migrate, load sample pets and serve the API on 127.0.0.1:PORT."
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: $PORT or 8000)")
    parser.add_argument("--no-sample", action="store_true", help="do not load the sample pets")


def run(args, ctx):
    settings = DbSettings.from_env(ctx.env)
    port = args.port or int(ctx.env.get("PORT", "8000"))
    server = None
    try:
        if not reachable(settings.host, settings.port):
            if settings.host not in LOCAL_HOSTS:
                raise OpsError(f"run: cannot reach the database at {settings.host}:{settings.port}")
            base_dir = Path(ctx.env.get("PETS_LOCALDB_DIR", ROOT / ".localdb"))
            server = PrivateServer(base_dir, settings.port, ctx)
            server.start()
        try:
            create_database(settings)
        except OpsError as exc:
            raise OpsError(f"run: {exc}") from exc
        migrate(settings, MIGRATIONS_DIR, ctx.say)
        if not args.no_sample:
            count = load_sample(settings)
            ctx.say(f"run: sample pets loaded ({count} new)")
        return serve(port, ctx)
    finally:
        if server is not None:
            server.stop()


def serve(port, ctx):
    # chalice local's gateway, answering every HTTP method with JSON (see ops/local/server.py).
    command = [sys.executable, "-m", "ops.local.server", "--port", str(port), "--stage", "dev"]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(ctx.env))
    try:
        deadline = time.monotonic() + 30
        while not reachable("127.0.0.1", port, timeout=0.5):
            if process.poll() is not None:
                raise OpsError(
                    f"run: chalice local exited with {process.returncode} "
                    f"(is port {port} already in use? set PORT)"
                )
            if time.monotonic() > deadline:
                raise OpsError(f"run: the local server did not listen on port {port} within 30 s")
            time.sleep(0.1)
        ctx.say(
            f"run: ready on http://127.0.0.1:{port} "
            f"- try: curl -i http://127.0.0.1:{port}/api/pet/Fluffy (Ctrl-C stops)"
        )
        return process.wait()
    except KeyboardInterrupt:
        ctx.say("run: stopping")
        return 0
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
