"""make run on a machine with no database server installed (no I/O beyond an empty folder)."""

import pytest

from ops.errors import OpsError
from ops.local.mariadb import INSTALL_HINT, PrivateServer, find_binary
from tests.support.aws import make_context


def test_no_server_binary_says_how_to_install_one(tmp_path):
    server = PrivateServer(tmp_path / "db", 3399, make_context(), search_dirs=[tmp_path])
    with pytest.raises(OpsError) as raised:
        server.start()
    assert str(raised.value) == INSTALL_HINT
    assert "apt-get install -y mariadb-server" in INSTALL_HINT
    assert "brew install mariadb" in INSTALL_HINT
    assert not (tmp_path / "db" / "data").exists()


def test_find_binary_looks_in_the_given_folders(tmp_path):
    binary = tmp_path / "mariadbd"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_binary("mysqld", "mariadbd", search_dirs=[tmp_path]) == str(binary)
    assert find_binary("mysqld", search_dirs=[tmp_path]) is None
