"""``python -m ops migrate``: apply pending schema migrations (the engine is ``ops.db.migrate``).

Locally it migrates the database named by the ``DB_*`` variables. With ``--stage`` it runs the
same engine on the stage's Aurora cluster, from the stage's admin host
(``ops.commands.migrate_stage``).
"""

from pathlib import Path

from chalicelib.settings import DbSettings
from ops import stages
from ops.db.migrate import MIGRATIONS_DIR, migrate, outcome


def add_arguments(parser):
    parser.description = (
        "Apply pending migrations from sql/migrations in order, recording each with its "
        "checksum. A second run changes nothing. Refuses to run when an applied file was "
        "edited. Concurrent runs wait for each other (database lock). With --stage, the "
        "same runs on the stage's Aurora cluster from its admin host."
    )
    stages.add_stage_argument(
        parser,
        required=False,
        help=(
            "run the migrations on the stage's Aurora cluster instead, through SSM Run Command "
            "on the stage's admin host, then apply the AWS-only users (docs/migrations.md)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="with --stage: seconds to wait for the host to finish",
    )
    parser.add_argument(
        "--rds-ca-bundle",
        type=Path,
        metavar="FILE",
        help="with --stage: use this PEM file instead of downloading the region's RDS CA bundle",
    )
    parser.add_argument(
        "--migrations-dir",
        type=Path,
        default=MIGRATIONS_DIR,
        metavar="DIR",
        help="the folder of migration files",
    )
    parser.add_argument(
        "--lock-timeout",
        type=int,
        default=60,
        metavar="SECONDS",
        help="seconds to wait while another migrate run holds the lock",
    )


def run(args, ctx):
    if args.stage:
        # Deferred: the remote path needs botocore, which a local migration never loads.
        from ops.commands import migrate_stage  # noqa: PLC0415 -- see above

        return migrate_stage.run(args, ctx)
    settings = DbSettings.from_env(ctx.env)
    applied = migrate(settings, args.migrations_dir, ctx.say, lock_timeout=args.lock_timeout)
    ctx.say(outcome(applied, settings.database))
    return 0
