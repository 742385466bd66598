"""How the API's connector sets up TLS: verified with a CA, skipped for a local password login.

pymysql >= 1.2 tries TLS by default, unverified, after building a default SSL context that loads
the system CA store (~17 ms of every cold start, docs/performance.md). The connector turns that
off only for a password login with no CA (the local server); a configured CA must always mean
verified TLS, never a silent fallback to plain TCP.
"""

import certifi
import pymysql
import pytest

from chalicelib.db import connector


def test_a_local_password_login_without_a_ca_sets_up_no_tls(pets_db):
    conn = connector(pets_db)()
    try:
        assert conn.ssl is False
        assert not hasattr(conn, "ctx")  # no SSL context was built
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        conn.close()


def test_a_configured_ca_means_tls_or_no_connection(pets_db):
    # The local server has TLS disabled (or a certificate no public CA signed): either way a
    # connector given a CA must refuse to go on in plain text.
    with_ca = pets_db._replace(ssl_ca=certifi.where())
    with pytest.raises(pymysql.err.OperationalError):
        connector(with_ca)().close()
