"""What the lookup rule relies on from the server, checked on the server the tests run against.

Local tests run on MariaDB 10.11, CI's test job on MySQL 8.0 (Aurora MySQL 3's engine). The
lookup rule (docs/lookup-rule.md) assumes the same answers from both; if a server ever differs,
these fail before the API's tests do, naming the assumption.
"""

import pytest

from ops.db.admin import admin_connection


def scalar(settings, sql, args=None):
    with admin_connection(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()[0]


def test_utf8mb4_bin_exists_and_pads_spaces(server_settings):
    # PAD SPACE: the reason the query adds a byte comparison.
    assert scalar(server_settings, "SELECT _utf8mb4'Rex' = _utf8mb4'Rex ' COLLATE utf8mb4_bin") == 1


def test_byte_comparison_does_not_pad(server_settings):
    assert scalar(server_settings, "SELECT CAST('Rex' AS BINARY) = CAST('Rex ' AS BINARY)") == 0


@pytest.mark.parametrize(
    ("left", "right"),
    [("Rex", "rex"), ("Zoë", "Zoe"), ("Zoë", "Zoe\u0308"), ("ß", "ss"), ("Å", "A")],
)
def test_utf8mb4_bin_folds_neither_case_nor_accents(server_settings, left, right):
    sql = "SELECT CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin = CONVERT(%s USING utf8mb4)"
    assert scalar(server_settings, sql, (left, right)) == 0


def test_equality_has_no_wildcards(server_settings):
    assert scalar(server_settings, "SELECT 'abc' = 'a_c'") == 0
    assert scalar(server_settings, "SELECT 'abc' = 'a%'") == 0


def test_four_byte_characters_round_trip(server_settings):
    assert scalar(server_settings, "SELECT CONVERT(%s USING utf8mb4)", ("🐈",)) == "🐈"
