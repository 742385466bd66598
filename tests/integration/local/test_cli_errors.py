"""The CLI fails in one line, with a non-zero exit, and never with a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def ops(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result, fragment, code=None):
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--bogus"], "the following arguments are required: COMMAND"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
        (["migrate", "--bogus"], "unrecognized arguments: --bogus"),
        (["migrate", "--lock-timeout", "soon"], "invalid int value: 'soon'"),
        (["run", "--port", "eighty"], "invalid int value: 'eighty'"),
    ],
)
def test_bad_flags(args, fragment):
    assert_one_line_error(ops(*args), fragment, code=2)


def test_missing_migrations_folder():
    result = ops("migrate", "--migrations-dir", "/nonexistent/migrations")
    assert_one_line_error(result, "no migrations folder at /nonexistent/migrations", code=1)


def test_unreachable_database():
    assert_one_line_error(ops("migrate", DB_PORT="1"), "cannot connect to 127.0.0.1:1", code=1)


def test_bad_setting_value_is_one_line():
    result = ops("migrate", DB_PORT="not-a-port")
    assert_one_line_error(result, "migrate: DB_PORT must be a number, not 'not-a-port'", code=1)


def test_help_lists_every_command():
    result = ops("--help")
    assert result.returncode == 0
    for command in ("migrate", "run"):
        assert command in result.stdout
