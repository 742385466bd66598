"""What ``migrate --stage S`` runs on the stage's admin host: ``wait``, ``migrate``, ``users``.

Run there as ``python -m ops.host <step>`` with the ``DB_*`` environment the SSM command sets
(``DB_AUTH=secret``: the master user's password is read from Secrets Manager inside AWS and never
printed). Not a ``python -m ops`` command: nobody runs these by hand;
``ops.commands.migrate_stage`` writes them into the SSM command and ships this package, with
``ops.db`` and ``chalicelib``, in the migration bundle.

* ``wait``: an Aurora cluster paused at zero capacity takes seconds to resume, and the migration
  backend's connect timeout is shorter than that. Connect until it answers (up to ``--timeout``).
* ``users --stage S``: the AWS-only users and grants, and the smoke test's pet
  (``sql/aws/canary.sql``). ``sql/aws/users.sql`` holds idempotent statements for the stage's
  API user ``pets_api_<stage>``, its ``{stage}`` replaced with the stage's name.
  ``sql/aws/developers.txt`` lists developer names; each becomes ``dev_<name>``, an
  IAM-authenticated, TLS-only user that can only SELECT from the ``pet`` table. The file is the
  whole truth: a ``dev_*`` user whose name is not in it is dropped, and a listed user's
  privileges are reset to exactly that SELECT.
* ``migrate``: the migrations (``ops.db.migrate``), exactly as ``python -m ops migrate`` locally.
"""

import argparse
import re
import sys
import time
from pathlib import Path

import pymysql
import sqlparse

from chalicelib.credentials import CredentialsError
from chalicelib.db import connector
from chalicelib.settings import DbSettings
from ops.db.migrate import MIGRATIONS_DIR, migrate, outcome
from ops.errors import OpsError

ROOT = Path(__file__).resolve().parents[2]
USERS_SQL = ROOT / "sql" / "aws" / "users.sql"
CANARY_SQL = ROOT / "sql" / "aws" / "canary.sql"  # the pet `ops smoke` looks up
DEVELOPERS_FILE = ROOT / "sql" / "aws" / "developers.txt"
DEVELOPER_PREFIX = "dev_"
# MySQL 8 user names are at most 32 characters: "dev_" plus 28. Only these characters, so a
# name can be written into a statement (account names cannot be bound as parameters).
DEVELOPER_NAME = re.compile(r"[a-z][a-z0-9_]{0,27}")
# A stage's name as the templates accept it (ops/stages.py); safe inside a quoted account name.
STAGE_NAME = re.compile(r"[a-z][a-z0-9]{1,11}")


def stage_sql(text, stage):
    """``text`` with every ``{stage}`` replaced by ``stage``, which must be a stage's name."""
    if not STAGE_NAME.fullmatch(stage or ""):
        raise OpsError(f"not a stage name: {stage!r}")
    return text.replace("{stage}", stage)


def read_developers(path=DEVELOPERS_FILE):
    """The names in ``path``: one per line, ``#`` comments and blank lines ignored."""
    names = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not DEVELOPER_NAME.fullmatch(name):
            raise OpsError(
                f"{path}:{number}: {name!r} is not a developer name (lower case letters, digits, "
                "underscores; starts with a letter; at most 28 characters)"
            )
        if name not in names:
            names.append(name)
    return names


def developer_statements(name, database):
    """Create (if new) ``dev_<name>`` and leave it exactly SELECT on ``<database>.pet``."""
    if not DEVELOPER_NAME.fullmatch(name):
        raise OpsError(f"not a developer name: {name!r}")
    account = f"'{DEVELOPER_PREFIX}{name}'@'%'"
    return [
        f"CREATE USER IF NOT EXISTS {account} "
        "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}",
        f"GRANT SELECT ON `{database}`.`pet` TO {account}",
    ]


def sql_statements(text):
    """The statements of a SQL file, comments removed, without their trailing ``;``."""
    cleaned = sqlparse.format(text, strip_comments=True)
    return [s.strip().rstrip(";").strip() for s in sqlparse.split(cleaned) if s.strip()]


def apply_users(conn, database, users_sql, developers, say):
    """Run ``users_sql``, drop unlisted ``dev_*`` users, then (re)create the listed ones."""
    with conn.cursor() as cursor:
        for statement in sql_statements(users_sql):
            cursor.execute(statement)
        cursor.execute(
            "SELECT User FROM mysql.user WHERE Host = '%%' AND User LIKE %s",
            (DEVELOPER_PREFIX.replace("_", "\\_") + "%",),
        )
        existing = sorted(row[0] for row in cursor.fetchall())
        wanted = [DEVELOPER_PREFIX + n for n in developers]
        for user in existing:
            if user not in wanted:
                # The name came from mysql.user, not from a file: quote it the MySQL way.
                cursor.execute(f"DROP USER '{user.replace(chr(39), chr(39) * 2)}'@'%'")
                say(f"users: dropped {user} (no longer in sql/aws/developers.txt)")
        for name in developers:
            for statement in developer_statements(name, database):
                cursor.execute(statement)
    say(
        f"users: the API user and {len(developers)} developer user(s) "
        f"({', '.join(wanted) or 'none'}) applied on {database}"
    )


def _connect(settings):
    # Statements here can wait on metadata locks; the API's 2 s read timeout is too short.
    return connector(settings._replace(read_timeout=60.0))()


def wait_for_database(settings, timeout, say, sleep=time.sleep, clock=time.monotonic):
    deadline = clock() + timeout
    while True:
        try:
            _connect(settings).close()
            say(f"wait: the database at {settings.host}:{settings.port} answers")
            return
        except CredentialsError as exc:
            raise OpsError(f"wait: {exc}") from exc
        except pymysql.err.MySQLError as exc:
            if clock() >= deadline:
                raise OpsError(
                    f"wait: no answer from {settings.host}:{settings.port} in {timeout:g} s: "
                    f"{exc.args[-1]}"
                ) from exc
            say("wait: the database does not answer yet (resuming from pause?); retrying")
            sleep(5)


def main(argv=None, env=None, out=sys.stdout):
    parser = argparse.ArgumentParser(prog="python -m ops.host", description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("wait", "migrate", "users"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--stage", help="the stage whose API user to apply (users)")
    args = parser.parse_args(argv)

    def say(message):
        print(message, file=out, flush=True)

    try:
        settings = DbSettings.from_env(env)
        if args.step == "wait":
            wait_for_database(settings, args.timeout, say)
            return 0
        if args.step == "migrate":
            say(outcome(migrate(settings, MIGRATIONS_DIR, say), settings.database))
            return 0
        developers = read_developers()
        users_sql = stage_sql(USERS_SQL.read_text(encoding="utf-8"), args.stage)
        conn = _connect(settings)
        try:
            canary_sql = CANARY_SQL.read_text(encoding="utf-8")
            apply_users(conn, settings.database, users_sql + "\n" + canary_sql, developers, say)
        finally:
            conn.close()
        return 0
    except OpsError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return exc.exit_code
    except (pymysql.err.MySQLError, CredentialsError) as exc:
        print(f"{args.step}: {type(exc).__name__}: {exc.args[-1]}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 -- the SSM output shows one line, never a traceback
        print(f"{args.step}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
