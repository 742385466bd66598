"""``ops migrate`` against a real database: order, idempotency, checksums, locking, failures."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops.db.admin import admin_connection
from ops.db.migrate import MIGRATIONS_DIR, migrate
from ops.errors import OpsError
from tests.support.db import db_env

ROOT = Path(__file__).resolve().parents[3]


def quiet():
    return lambda _line: None


@pytest.fixture
def migrations(tmp_path):
    """A private copy of sql/migrations that a test may add to or edit."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def query(settings, sql):
    with admin_connection(settings, settings.database) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def columns(settings):
    rows = query(
        settings,
        "SELECT column_name, column_type FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = 'pet' "
        "ORDER BY ordinal_position",
    )
    return [(name, kind.lower()) for name, kind in rows]


def test_first_migration_creates_the_pet_table(empty_db):
    applied = migrate(empty_db, MIGRATIONS_DIR, quiet())
    assert applied == ["0001_create_pet"]
    assert columns(empty_db) == [
        ("name", "varchar(20)"),
        ("owner", "varchar(20)"),
        ("species", "varchar(20)"),
        ("sex", "char(1)"),
    ]
    (collation,) = query(
        empty_db,
        "SELECT collation_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = 'pet' "
        "AND column_name = 'name'",
    )[0]
    assert collation == "utf8mb4_bin"
    keys = query(empty_db, "SHOW KEYS FROM pet WHERE Key_name = 'PRIMARY'")
    assert [row[4] for row in keys] == ["name"]  # Column_name: name is the unique key


def test_migrations_never_insert_data(empty_db):
    migrate(empty_db, MIGRATIONS_DIR, quiet())
    assert query(empty_db, "SELECT COUNT(*) FROM pet") == ((0,),)


def test_second_run_changes_nothing(empty_db):
    migrate(empty_db, MIGRATIONS_DIR, quiet())
    before = query(empty_db, "SELECT * FROM _yoyo_migration")
    said = []
    assert migrate(empty_db, MIGRATIONS_DIR, said.append) == []
    assert query(empty_db, "SELECT * FROM _yoyo_migration") == before
    assert not [line for line in said if "applying" in line]


def test_each_applied_file_is_recorded_with_its_checksum(empty_db):
    migrate(empty_db, MIGRATIONS_DIR, quiet())
    expected = hashlib.sha256((MIGRATIONS_DIR / "0001_create_pet.sql").read_bytes()).hexdigest()
    rows = query(empty_db, "SELECT migration_id, sha256 FROM _pets_migration_checksum")
    assert rows == (("0001_create_pet", expected),)


def test_pending_migrations_apply_in_order(empty_db, migrations):
    migrate(empty_db, migrations, quiet())
    (migrations / "0003_add_index.sql").write_text(
        "-- depends: 0002_add_birth\nCREATE INDEX pet_birth ON pet (birth);\n"
    )
    (migrations / "0002_add_birth.sql").write_text(
        "-- depends: 0001_create_pet\nALTER TABLE pet ADD COLUMN birth DATE NULL;\n"
    )
    assert migrate(empty_db, migrations, quiet()) == ["0002_add_birth", "0003_add_index"]
    assert ("birth", "date") in columns(empty_db)


def test_edited_applied_file_is_refused(empty_db, migrations):
    migrate(empty_db, migrations, quiet())
    path = migrations / "0001_create_pet.sql"
    path.write_text(path.read_text().replace("VARCHAR(20) NULL", "VARCHAR(40) NULL", 1))
    (migrations / "0002_more.sql").write_text("ALTER TABLE pet ADD COLUMN birth DATE NULL;\n")
    with pytest.raises(OpsError, match="0001_create_pet.sql was edited after it was applied"):
        migrate(empty_db, migrations, quiet())
    assert ("birth", "date") not in columns(empty_db)  # nothing after the refusal ran


def test_deleted_applied_file_is_refused(empty_db, migrations):
    migrate(empty_db, migrations, quiet())
    (migrations / "0001_create_pet.sql").unlink()
    with pytest.raises(OpsError, match="files are gone"):
        migrate(empty_db, migrations, quiet())


def test_failing_migration_stops_is_not_recorded_and_can_be_rerun(empty_db, migrations):
    migrate(empty_db, migrations, quiet())
    broken = migrations / "0002_broken.sql"
    broken.write_text("ALTER TABLE pet ADD COLUMN birth DATEE NULL;\n")
    (migrations / "0003_after.sql").write_text(
        "-- depends: 0002_broken\nALTER TABLE pet ADD COLUMN death DATE NULL;\n"
    )
    with pytest.raises(OpsError, match="0002_broken.sql failed and was not recorded"):
        migrate(empty_db, migrations, quiet())
    assert [c for c, _ in columns(empty_db)] == ["name", "owner", "species", "sex"]
    ids = {row[0] for row in query(empty_db, "SELECT migration_id FROM _yoyo_migration")}
    assert ids == {"0001_create_pet"}
    # Recovery: fix the file (never applied, so editing it is allowed) and run again.
    broken.write_text("ALTER TABLE pet ADD COLUMN birth DATE NULL;\n")
    assert migrate(empty_db, migrations, quiet()) == ["0002_broken", "0003_after"]


def run_cli(settings, *args, env_extra=None):
    env = {**os.environ, **db_env(settings, **(env_extra or {}))}
    return subprocess.run(
        [sys.executable, "-m", "ops", "migrate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_twice_exits_zero_and_second_run_says_up_to_date(empty_db):
    first = run_cli(empty_db)
    assert first.returncode == 0, first.stderr
    assert "applied 1 migration" in first.stdout
    second = run_cli(empty_db)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


def test_cli_edited_file_is_one_line_error(empty_db, migrations):
    assert run_cli(empty_db, "--migrations-dir", str(migrations)).returncode == 0
    path = migrations / "0001_create_pet.sql"
    path.write_text(path.read_text() + "\n-- an edit\n")
    result = run_cli(empty_db, "--migrations-dir", str(migrations))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "was edited after it was applied" in result.stderr


def test_cli_unreachable_database_is_one_line_error(empty_db):
    result = run_cli(empty_db, env_extra={"DB_PORT": "1"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("migrate: cannot connect to")
    assert len(result.stderr.strip().splitlines()) == 1


def test_concurrent_runs_apply_each_migration_once(empty_db, migrations):
    # A slow migration widens the window in which a second runner would also apply it.
    (migrations / "0002_slow.sql").write_text(
        "-- depends: 0001_create_pet\n"
        "ALTER TABLE pet ADD COLUMN birth DATE NULL, ALGORITHM = COPY;\n"
    )
    (migrations / "0000_sleep.sql").write_text("DO SLEEP(1);\n")
    env = db_env(empty_db)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ops", "migrate", "--migrations-dir", str(migrations)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0], results
    applied_lines = [
        line for _, out, _ in results for line in out.splitlines() if "applying" in line
    ]
    assert sorted(applied_lines) == sorted(
        f"migrate: applying {name}.sql" for name in ("0000_sleep", "0001_create_pet", "0002_slow")
    )
    rows = query(empty_db, "SELECT migration_id FROM _yoyo_migration")
    assert sorted(r[0] for r in rows) == ["0000_sleep", "0001_create_pet", "0002_slow"]


def test_stale_yoyo_lock_row_left_by_a_killed_run_does_not_block(empty_db):
    migrate(empty_db, MIGRATIONS_DIR, quiet())
    with admin_connection(empty_db, empty_db.database) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, NOW(), 999999)")
    assert migrate(empty_db, MIGRATIONS_DIR, quiet(), lock_timeout=5) == []
