"""``python -m ops run`` (what ``make run`` runs): the API on a real database, on one machine.

Steps: check that the HTTP port is free; find the database (say which, and whether this run
started it); create the database if missing, migrate, load the sample pets; serve with
``chalice local``'s gateway on 127.0.0.1:PORT until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then stop
what this run started, the API server first, then a private MariaDB (ops/local/processes.py).
"""

import contextlib
from pathlib import Path

from chalicelib.settings import DbSettings
from ops.db.admin import create_database, load_sample, server_version
from ops.db.migrate import MIGRATIONS_DIR, migrate
from ops.errors import OpsError
from ops.local.mariadb import PrivateServer
from ops.local.ports import listen_error, reachable
from ops.local.processes import ApiServer, Stop, stop_signals

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HOST = "127.0.0.1"


def add_arguments(parser):
    parser.description = (
        "Use the database at DB_HOST:DB_PORT, or start a private MariaDB there; create "
        "DB_NAME, migrate, load sample pets and serve the API on 127.0.0.1:PORT until Ctrl-C, "
        "SIGTERM or SIGHUP, then stop what it started."
    )
    parser.add_argument(
        "--port", type=int, help="HTTP port on 127.0.0.1 (default: $PORT, else 8000)"
    )
    parser.add_argument("--no-sample", action="store_true", help="do not load the sample pets")


def run(args, ctx):
    settings = DbSettings.from_env(ctx.env)
    port = args.port or _port_from_env(ctx.env)
    problem = listen_error(HOST, port)
    if problem:
        raise OpsError(f"run: {problem}")
    with stop_signals(), contextlib.ExitStack() as started:
        try:
            _prepare_database(settings, ctx, started, sample=not args.no_sample)
            server = ApiServer(port, dict(ctx.env), ROOT)
            started.callback(_stop_api_server, server, ctx)
            server.start()
            ctx.say(
                f"run: ready on http://{HOST}:{port} "
                f"- try: curl -i http://{HOST}:{port}/api/pet/Fluffy (Ctrl-C stops)"
            )
            code = server.wait()
            raise OpsError(f"run: the API server stopped by itself (exit code {code})")
        except Stop as stop:
            _tell(ctx, f"run: stopping ({stop.name})")
            return 0


def _port_from_env(env):
    value = env.get("PORT") or "8000"
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise OpsError(f"run: PORT must be a port number (1-65535), not {value!r}")
    return int(value)


def _prepare_database(settings, ctx, started, sample=True):
    """Find or start the server (saying which), then create, migrate and fill the database."""
    private = None
    if settings.host in LOCAL_HOSTS:
        base_dir = Path(ctx.env.get("PETS_LOCALDB_DIR", ROOT / ".localdb"))
        private = PrivateServer(base_dir, settings.port, ctx)
        private.stop_leftover()
    where = f"{settings.host}:{settings.port}"
    if reachable(settings.host, settings.port):
        owner = private.owner() if private else None
        version = server_version(settings)
        if owner is not None:
            whose = f"the private MariaDB of another make run (pid {owner}); it stops with that run"
        else:
            whose = "a server already running there, not started by this run (left running)"
        ctx.say(f"run: using {version} at {where}, database {settings.database}: {whose}")
    elif private is None:
        raise OpsError(f"run: cannot reach the database at {where}")
    else:
        started.callback(private.stop)
        private.start()
        ctx.say(
            f"run: using {server_version(settings)} at {where}, database {settings.database}: "
            f"a private MariaDB started by this run (data in {private.base_dir}; stopped at exit)"
        )
    create_database(settings)
    migrate(settings, MIGRATIONS_DIR, ctx.say)
    if sample:
        count = load_sample(settings)
        ctx.say(f"run: sample pets loaded ({count} new)")


def _stop_api_server(server, ctx):
    if server.stop():
        _tell(ctx, "run: stopped the API server")


def _tell(ctx, message):
    # After SIGHUP the terminal may be gone; stopping must go on whether or not this prints.
    with contextlib.suppress(OSError):
        ctx.say(message)
