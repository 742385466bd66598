"""``python -m ops run`` (what ``make run`` runs): the API on a real database, on one machine.

Steps: find or start a database, create the database if missing, migrate, load the sample pets,
then serve with ``chalice local`` on 127.0.0.1:PORT until Ctrl-C, stopping what it started.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import sqlparse

from ops import localdb
from ops.dbsettings import DbSettings
from ops.errors import OpsError
from ops.migrate import MIGRATIONS_DIR, migrate
from ops.scratchdb import admin_connection

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "sql" / "sample" / "pets.sql"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "run",
        help="serve the API locally on a real database (what make run does)",
        description=(
            "Use the database at DB_HOST:DB_PORT, or start a private MariaDB there; create "
            "DB_NAME, migrate, load sample pets and serve the API on 127.0.0.1:PORT."
        ),
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: $PORT or 8000)")
    parser.add_argument("--no-sample", action="store_true", help="do not load the sample pets")
    parser.set_defaults(command=run)


def run(args, ctx):
    settings = DbSettings.from_env(ctx.env)
    port = args.port or int(ctx.env.get("PORT", "8000"))
    server = None
    try:
        if not localdb.reachable(settings.host, settings.port):
            if settings.host not in LOCAL_HOSTS:
                raise OpsError(f"run: cannot reach the database at {settings.host}:{settings.port}")
            base_dir = Path(ctx.env.get("PETS_LOCALDB_DIR", ROOT / ".localdb"))
            server = localdb.PrivateServer(base_dir, settings.port, ctx)
            server.start()
        create_database(settings)
        migrate(settings, MIGRATIONS_DIR, ctx)
        if not args.no_sample:
            count = load_sample(settings, SAMPLE_FILE)
            ctx.say(f"run: sample pets loaded ({count} new)")
        return serve(port, ctx)
    finally:
        if server is not None:
            server.stop()


def create_database(settings):
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", settings.database):
        raise OpsError("run: DB_NAME may hold only letters, digits and underscores")
    try:
        conn = admin_connection(settings, connect_timeout=5)
    except pymysql.err.MySQLError as exc:
        raise OpsError(
            f"run: cannot connect to {settings.host}:{settings.port}: {exc.args[-1]}"
        ) from exc
    with conn, conn.cursor() as cursor:
        # The name was checked against [A-Za-z0-9_] above, so backquoting it is safe.
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{settings.database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def load_sample(settings, path):
    """Run the statements of ``path``; return the number of rows they added."""
    conn = admin_connection(settings, settings.database, connect_timeout=5)
    added = 0
    with conn, conn.cursor() as cursor:
        for statement in sqlparse.split(Path(path).read_text(encoding="utf-8")):
            if statement.strip():
                added += cursor.execute(statement.rstrip().rstrip(";"))
    return added


def serve(port, ctx):
    # chalice local's gateway, answering every HTTP method with JSON (see ops/local_server.py).
    command = [sys.executable, "-m", "ops.local_server", "--port", str(port), "--stage", "dev"]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(ctx.env))
    try:
        deadline = time.monotonic() + 30
        while not localdb.reachable("127.0.0.1", port, timeout=0.5):
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
