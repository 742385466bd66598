"""``ops.steps``: the AWS-only users that ``migrate --stage`` applies on the admin host.

``AWSAuthenticationPlugin`` exists only on RDS/Aurora, so these statements cannot run on the
test MariaDB. A recording connection stands in for Aurora and the tests assert the exact SQL.
"""

import pytest

from ops.errors import OpsError
from ops.host import steps
from tests.support.clock import FakeClock


class RecordingConnection:
    """Records every statement; answers the dev_* user query with ``existing``."""

    def __init__(self, existing=()):
        self.existing = [(u,) for u in existing]
        self.statements = []

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.statements.append((sql, args) if args is not None else sql)

    def fetchall(self):
        return self.existing


def test_developers_file_is_read_and_checked(tmp_path):
    path = tmp_path / "developers.txt"
    path.write_text("# comment\nalice\n\nbob_2  # trailing comment\nalice\n")
    assert steps.read_developers(path) == ["alice", "bob_2"]
    path.write_text("alice\nRobert'); DROP\n")
    with pytest.raises(OpsError, match=r"developers.txt:2: .* is not a developer name"):
        steps.read_developers(path)
    path.write_text("a" * 29 + "\n")  # dev_ + 29 would pass MySQL's 32-character limit
    with pytest.raises(OpsError):
        steps.read_developers(path)


def test_committed_developers_file_is_valid():
    assert isinstance(steps.read_developers(), list)


def test_users_sql_creates_the_stage_api_user_with_iam_auth_and_select_only():
    statements = steps.sql_statements(steps.stage_sql(steps.USERS_SQL.read_text(), "prod"))
    assert statements == [
        "CREATE USER IF NOT EXISTS 'pets_api_prod'@'%'\n"
        "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'\nREQUIRE SSL",
        "GRANT SELECT ON pets.pet TO 'pets_api_prod'@'%'",
        "DROP USER IF EXISTS 'pets_api'@'%'",
    ]


@pytest.mark.parametrize("stage", [None, "", "Prod", "dev'@'%'; DROP USER root; --", "a"])
def test_only_a_stage_name_goes_into_the_users_sql(stage):
    with pytest.raises(OpsError, match="not a stage name"):
        steps.stage_sql(steps.USERS_SQL.read_text(), stage)


def test_the_users_step_without_a_stage_fails_in_one_line_before_connecting(capsys):
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": "1", "DB_AUTH": "password"}
    assert steps.main(["users"], env=env) == 1
    assert capsys.readouterr().err.strip() == "not a stage name: None"


def test_apply_users_creates_listed_developers_and_drops_the_others():
    conn = RecordingConnection(existing=["dev_alice", "dev_mallory"])
    said = []

    users_sql = "CREATE USER x;\n-- c\nGRANT y;"
    steps.apply_users(conn, "pets", users_sql, ["alice", "bob"], said.append)

    assert conn.statements == [
        "CREATE USER x",
        "GRANT y",
        ("SELECT User FROM mysql.user WHERE Host = '%%' AND User LIKE %s", ("dev\\_%",)),
        "DROP USER 'dev_mallory'@'%'",
        "CREATE USER IF NOT EXISTS 'dev_alice'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
        "AS 'RDS' REQUIRE SSL",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'dev_alice'@'%'",
        "GRANT SELECT ON `pets`.`pet` TO 'dev_alice'@'%'",
        "CREATE USER IF NOT EXISTS 'dev_bob'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
        "AS 'RDS' REQUIRE SSL",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'dev_bob'@'%'",
        "GRANT SELECT ON `pets`.`pet` TO 'dev_bob'@'%'",
    ]
    assert "dropped dev_mallory" in said[0]
    assert "dev_alice, dev_bob" in said[-1]


def test_developer_statements_refuse_a_name_that_could_inject_sql():
    with pytest.raises(OpsError):
        steps.developer_statements("x'@'%'; DROP USER root", "pets")


def test_wait_returns_once_the_real_database_answers(server_settings):
    said, clock = [], FakeClock()
    steps.wait_for_database(
        server_settings, 10, said.append, sleep=clock.sleep, clock=clock.monotonic
    )
    assert clock.sleeps == []
    assert said == [f"wait: the database at {server_settings.host}:{server_settings.port} answers"]


def test_wait_retries_until_its_deadline_then_fails_with_one_line(server_settings):
    closed = server_settings._replace(host="127.0.0.1", port=1)  # refused at once
    clock = FakeClock()
    with pytest.raises(OpsError, match=r"wait: no answer from 127.0.0.1:1 in 30 s"):
        steps.wait_for_database(
            closed, 30, lambda _: None, sleep=clock.sleep, clock=clock.monotonic
        )
    assert clock.sleeps == [5] * 6  # a look every 5 s until 30 s have passed


def test_a_bad_setting_on_the_host_is_one_line(capsys):
    assert steps.main(["wait"], env={"DB_PORT": "three"}) == 1
    err = capsys.readouterr().err
    assert err == "wait: SettingsError: DB_PORT must be a number, not 'three'\n"
