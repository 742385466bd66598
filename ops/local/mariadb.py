"""A private MariaDB for ``make run`` when no server answers at DB_HOST:DB_PORT.

The private server uses the machine's installed MariaDB (or MySQL) binaries, keeps its data in
``.localdb/`` inside the repository (git-ignored), listens only on 127.0.0.1 and is stopped when
``make run`` ends. Root has no password there, as on a fresh developer install.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

from ops.errors import OpsError
from ops.local.ports import reachable

INSTALL_HINT = (
    "no MySQL/MariaDB server is reachable and none is installed to start: install one "
    "(Debian/Ubuntu: sudo apt-get install -y mariadb-server; macOS: brew install mariadb) "
    "or point DB_HOST/DB_PORT at a running server"
)
_SEARCH_DIRS = [
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/opt/homebrew/bin",
    "/usr/local/opt/mariadb/bin",
    "/usr/bin",
]


def find_binary(*names, search_dirs=None):
    """The first of ``names`` found on PATH or in the usual server folders, else None."""
    for name in names:
        found = shutil.which(name) if search_dirs is None else None
        if found:
            return found
        for folder in _SEARCH_DIRS if search_dirs is None else search_dirs:
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


class PrivateServer:
    """A MariaDB server process owned by this run, data in ``base_dir``."""

    def __init__(self, base_dir, port, ctx, search_dirs=None):
        self.base_dir = Path(base_dir)
        self.port = port
        self._ctx = ctx
        self._search_dirs = search_dirs  # None: PATH and the usual folders
        self._process = None

    def start(self, timeout=60):
        server = find_binary("mariadbd", "mysqld", search_dirs=self._search_dirs)
        install = find_binary(
            "mariadb-install-db", "mysql_install_db", search_dirs=self._search_dirs
        )
        if not server or not install:
            raise OpsError(INSTALL_HINT)
        datadir = self.base_dir / "data"
        self.base_dir.mkdir(parents=True, exist_ok=True)
        log = self.base_dir / "server.log"
        user = ["--user=" + _current_user()] if os.geteuid() == 0 else []
        if not (datadir / "mysql").is_dir():
            self._ctx.say(f"run: initialising a private MariaDB in {datadir}")
            with open(log, "ab") as log_file:
                done = subprocess.run(
                    [
                        install,
                        "--no-defaults",
                        f"--datadir={datadir}",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                        *user,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                )
            if done.returncode != 0:
                raise OpsError(f"run: initialising the private MariaDB failed; see {log}")
        self._ctx.say(f"run: starting a private MariaDB on 127.0.0.1:{self.port}")
        self._process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={datadir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.base_dir / 'mysqld.sock'}",
                f"--pid-file={self.base_dir / 'mysqld.pid'}",
                f"--log-error={log}",
                *user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port, timeout=0.5):
            if self._process.poll() is not None:
                raise OpsError(f"run: the private MariaDB exited at start; see {log}")
            if time.monotonic() > deadline:
                self.stop()
                raise OpsError(f"run: the private MariaDB did not start in {timeout} s; see {log}")
            time.sleep(0.2)

    def stop(self):
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._ctx.say("run: stopped the private MariaDB")


def _current_user():
    import pwd  # noqa: PLC0415 -- POSIX only, and only needed when running as root

    return pwd.getpwuid(os.geteuid()).pw_name
