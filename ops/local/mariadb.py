"""A private MariaDB for ``make run`` when no server answers at DB_HOST:DB_PORT.

The private server uses the machine's installed MariaDB (or MySQL) binaries, keeps its data in
``.localdb/`` inside the repository (git-ignored), listens only on 127.0.0.1 and is stopped when
``make run`` ends. Root has no password there, as on a fresh developer install.

Ownership. The run that starts the server holds an exclusive lock on ``.localdb/run.lock``
(``flock``, with its pid written in the file) until it has stopped the server; the kernel
releases the lock when that process dies, however it dies. So:

* the lock is free but the server still answers on ``.localdb/mysqld.sock``: an earlier run was
  killed before it could stop its server (``kill -9``, a crash). Nobody will ever stop that
  server, so the next run says so and stops it (``leftover``), then starts its own: one code
  path, on this run's DB_PORT, owned by this run. Adopting it instead would save about two
  seconds but keep whatever port the dead run used;
* the lock is held: another ``make run`` owns the server. A run on the same DB_PORT uses it and
  says whose it is (it stops when that run ends); a run that would need to start a second server
  on the same data refuses in one line (``start``).

The server runs in a session of its own, so a Ctrl-C or a closed terminal reaches only
``make run``, which then stops the server in order (``ops/commands/run.py``).
"""

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ops.errors import OpsError
from ops.local import processes
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
        self._lock = None

    @property
    def socket_path(self):
        return self.base_dir / "mysqld.sock"

    def owner(self):
        """The pid of another live run that owns this data folder's server, else None."""
        if not self.base_dir.is_dir():
            return None  # never used: nothing to own, and nothing is created here
        if self._lock is not None or not self._take_lock():
            return _read_pid(self.base_dir / "run.lock")
        self._release_lock()
        return None

    def stop_leftover(self, timeout=30):
        """Stop a server an earlier, dead run left answering here; True when there was one."""
        if self._lock is not None or not self.base_dir.is_dir() or not self._take_lock():
            return False  # ours, nothing here, or another live run's
        try:
            pid = _read_pid(self.base_dir / "mysqld.pid")
            if pid is None or not _answers(self.socket_path):
                return False
            self._ctx.say(
                f"run: a private MariaDB (pid {pid}) left running by an earlier make run still "
                f"answers on {self.socket_path}; stopping it"
            )
            try:
                _stop_pid(pid, self.socket_path, timeout)
            except PermissionError as exc:
                raise OpsError(
                    f"run: the private MariaDB left running (pid {pid}) belongs to another user; "
                    f"stop it (kill {pid}) and run again"
                ) from exc
            return True
        finally:
            self._release_lock()

    def start(self, timeout=60):
        server = find_binary("mariadbd", "mysqld", search_dirs=self._search_dirs)
        install = find_binary(
            "mariadb-install-db", "mysql_install_db", search_dirs=self._search_dirs
        )
        if not server or not install:
            raise OpsError(INSTALL_HINT)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None and not self._take_lock():
            pid = _read_pid(self.base_dir / "run.lock")
            raise OpsError(
                f"run: the private MariaDB in {self.base_dir} belongs to another make run "
                f"(pid {pid}) on another DB_PORT; stop that run, or use its DB_PORT"
            )
        datadir = self.base_dir / "data"
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
                f"--socket={self.socket_path}",
                f"--pid-file={self.base_dir / 'mysqld.pid'}",
                f"--log-error={log}",
                *user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # terminal signals reach make run only; it stops this
        )
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port, timeout=0.5):
            if self._process.poll() is not None:
                self._process = None
                self._release_lock()
                raise OpsError(f"run: the private MariaDB exited at start; see {log}")
            if time.monotonic() > deadline:
                self.stop()
                raise OpsError(f"run: the private MariaDB did not start in {timeout} s; see {log}")
            time.sleep(0.2)

    def stop(self):
        process, self._process = self._process, None
        try:
            if not processes.terminate(process, timeout=30):
                return
            # The terminal may be gone (SIGHUP): the server is stopped whether or not this prints.
            with contextlib.suppress(OSError):
                self._ctx.say("run: stopped the private MariaDB")
        finally:
            self._release_lock()

    def _take_lock(self):
        self.base_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.base_dir / "run.lock", "a+")  # noqa: SIM115 -- held until stop()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle
        return True

    def _release_lock(self):
        handle, self._lock = self._lock, None
        if handle is not None:
            handle.close()  # closing the file releases the flock


def _read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _answers(socket_path):
    """True when a server accepts connections on the Unix socket (a stale file refuses)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(socket_path))
        except OSError:
            return False
    return True


def _stop_pid(pid, socket_path, timeout):
    """SIGTERM (a clean shutdown), then SIGKILL if it is still answering after ``timeout``.

    Done when the socket no longer answers and the server removed its pid file (or is gone):
    an orphan's exit may leave a zombie that no init reaps, so "the pid exists" proves nothing.
    """
    pid_file = Path(socket_path).with_name("mysqld.pid")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _answers(socket_path) and (not pid_file.exists() or not _alive(pid)):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _answers(socket_path) and time.monotonic() < deadline:
        time.sleep(0.2)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _current_user():
    import pwd  # noqa: PLC0415 -- POSIX only, and only needed when running as root

    return pwd.getpwuid(os.geteuid()).pw_name
