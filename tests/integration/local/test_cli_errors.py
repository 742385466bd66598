"""The CLI fails in one line, with a non-zero exit, and never with a traceback."""

import os

import pytest

from tests.support.processes import assert_one_line_error, run_cli


def ops(*args, **env):
    return run_cli(*args, env={**os.environ, **env})


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
