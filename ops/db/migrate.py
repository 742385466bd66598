"""Apply the forward-only migrations in ``sql/migrations`` (``python -m ops migrate`` locally,
``python -m ops.host migrate`` on a stage's admin host).

yoyo-migrations does the parts a library does well: reading and ordering the files, splitting
SQL into statements, recording each applied migration and logging it. Around it this module adds
what yoyo lacks:

* **Checksums.** yoyo identifies a migration by its file name only. Each applied file's SHA-256 is
  kept in ``_pets_migration_checksum``; if an applied file has since been edited (or deleted),
  ``migrate`` refuses to go on, because the database no longer matches what the files say.
* **A lock that cannot go stale.** yoyo's own lock is a row in ``yoyo_lock`` that a killed process
  leaves behind. ``GET_LOCK`` (MySQL and MariaDB alike) belongs to the session and is released when
  the connection drops. Holding it proves no other migrator is alive, so a leftover yoyo lock row is
  stale and safely cleared before yoyo's lock is taken.
* **Stop at the first failure.** yoyo's ``apply_migrations`` skips a failing migration and goes
  on; here a failure stops the run and names the file. MySQL commits DDL immediately, so each file
  holds one DDL statement: a failed file leaves nothing of itself behind and the run can be
  repeated once the file is fixed (docs/migrations.md).
"""

import hashlib
from pathlib import Path

import pymysql
from yoyo import read_migrations
from yoyo.backends.core.mysql import MySQLBackend
from yoyo.connections import DatabaseURI

from chalicelib.credentials import CredentialsError
from chalicelib.db import connector
from ops.errors import OpsError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "migrations"
LOCK_NAME = "pets_migrate"


def migrate(settings, migrations_dir, say, lock_timeout=60):
    """Apply what is pending and return the ids applied, in order; ``say`` prints progress."""
    migrations_dir = Path(migrations_dir)
    if not migrations_dir.is_dir():
        raise OpsError(f"migrate: no migrations folder at {migrations_dir}")
    migrations = read_migrations(str(migrations_dir))
    backend = _open_backend(settings)
    try:
        with _named_lock(backend.connection, lock_timeout):
            backend.init_database()
            backend.break_lock()  # safe: holding GET_LOCK proves no live migrator owns a row
            with backend.lock():
                return _apply_pending(backend, migrations, say)
    finally:
        backend.connection.close()


def outcome(applied, database):
    """The line that ends a migration run."""
    if applied:
        return f"migrate: applied {len(applied)} migration(s) to {database}"
    return f"migrate: {database} is up to date; nothing to apply"


def checksum(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _apply_pending(backend, migrations, say):
    _ensure_checksum_table(backend)
    recorded = _recorded_checksums(backend)
    applied_hashes = set(backend.get_applied_migration_hashes())
    by_hash = {m.hash: m for m in migrations}
    missing = applied_hashes - set(by_hash)
    if missing:
        raise OpsError(
            "migrate: the database has migrations applied whose files are gone from "
            f"{Path(migrations[0].path).parent if migrations else 'sql/migrations'}; "
            "restore them before migrating"
        )
    for m in migrations:
        if m.hash not in applied_hashes:
            continue
        actual = checksum(m.path)
        if m.id not in recorded:
            # Applied by an interrupted run between yoyo's record and ours: adopt it.
            _record_checksum(backend, m.id, actual)
        elif recorded[m.id] != actual:
            raise OpsError(
                f"migrate: {Path(m.path).name} was edited after it was applied "
                f"(checksum {recorded[m.id][:12]} in the database, {actual[:12]} on disk); "
                "migrations are forward-only: restore the file and add a new migration instead"
            )
    done = []
    for m in backend.to_apply(migrations):
        name = Path(m.path).name
        say(f"migrate: applying {name}")
        try:
            backend.apply_one(m)
        except pymysql.err.MySQLError as exc:
            raise OpsError(
                f"migrate: {name} failed and was not recorded: {exc.args[-1]}; "
                "fix the file and run migrate again (docs/migrations.md)"
            ) from exc
        _record_checksum(backend, m.id, checksum(m.path))
        done.append(m.id)
    return done


def _open_backend(settings):
    uri = DatabaseURI(
        "mysql", settings.user, None, settings.host, settings.port, settings.database, {}
    )
    try:
        return _backend_class(settings)(uri, "_yoyo_migration")
    except CredentialsError as exc:
        raise OpsError(f"migrate: {exc}") from exc
    except pymysql.err.MySQLError as exc:
        raise OpsError(
            f"migrate: cannot connect to {settings.host}:{settings.port}/{settings.database}: "
            f"{exc.args[-1]}"
        ) from exc


def _backend_class(settings):
    """yoyo's MySQL backend, connecting the way the API does (same settings and credentials).

    A class per settings, because yoyo re-creates its backend from ``(uri, table)`` alone.
    """

    # A migration may rebuild a large table: no 2 s read timeout as the API has, and longer to
    # connect, since an Aurora cluster may be resuming from pause.
    connect = connector(
        settings._replace(connect_timeout=10.0, read_timeout=3600.0), autocommit=False
    )

    class PetsMySQLBackend(MySQLBackend):
        def connect(self, dburi):
            return connect()

    return PetsMySQLBackend


class _named_lock:
    def __init__(self, connection, timeout):
        self._connection = connection
        self._timeout = timeout

    def __enter__(self):
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", (LOCK_NAME, self._timeout))
            (got,) = cursor.fetchone()
        if got != 1:
            raise OpsError(
                f"migrate: another migrate run held the lock for over {self._timeout} s; "
                "try again when it has finished"
            )

    def __exit__(self, *exc):
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (LOCK_NAME,))
        except pymysql.err.MySQLError:
            pass  # the lock dies with the connection anyway


def _ensure_checksum_table(backend):
    with backend.transaction():
        backend.execute(
            "CREATE TABLE IF NOT EXISTS _pets_migration_checksum ("
            "migration_id VARCHAR(255) NOT NULL PRIMARY KEY, "
            "sha256 CHAR(64) NOT NULL, "
            "recorded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
            ") DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"
        )


def _recorded_checksums(backend):
    cursor = backend.execute("SELECT migration_id, sha256 FROM _pets_migration_checksum")
    return dict(cursor.fetchall())


def _record_checksum(backend, migration_id, digest):
    with backend.transaction():
        backend.execute(
            "INSERT INTO _pets_migration_checksum (migration_id, sha256) VALUES (:id, :sha)",
            {"id": migration_id, "sha": digest},
        )
