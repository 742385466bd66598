"""The processes behind ``make run``: stopping on signals, and the API server's child process.

Signals. A terminal's Ctrl-C sends SIGINT, closing the terminal sends SIGHUP, and ``kill`` or a
process manager sends SIGTERM (GNU make passes SIGTERM on to the recipe it runs). All three mean
"stop": ``stop_signals`` turns each into ``Stop``, so the code unwinds and stops what it started,
in order. Once stopping has begun, further signals are ignored so that the stopping itself is
not cut short (every wait in it is bounded).

The API server (``python -m ops.local.server``) runs in a session of its own, so terminal signals
reach only ``make run``, which stops it. Two pipes tie it to its parent:

* readiness: the server writes ``ready`` once it has bound its port, or ``error <reason>`` when
  it cannot; the ready line is printed only after ``ready`` (never because some other program
  answered on the port);
* lifeline: the server's stdin is a pipe whose write end only the parent holds. When the parent
  dies, even by SIGKILL, the server reads end-of-file and exits, so it is never left serving.
"""

import contextlib
import os
import select
import signal
import subprocess
import sys
import time

from ops.errors import OpsError

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
READY_TIMEOUT = 30  # seconds for the server to import Chalice and bind its port


class Stop(Exception):  # not an error: the operator asked to stop
    """A stop signal arrived; ``name`` is SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum):
        self.name = signal.Signals(signum).name
        super().__init__(self.name)


@contextlib.contextmanager
def stop_signals():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise ``Stop`` (once)."""

    def handler(signum, _frame):
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


class ApiServer:
    """``python -m ops.local.server`` as a child process that cannot outlive its parent."""

    def __init__(self, port, env, cwd, stage="dev"):
        self.port = port
        self._env = env
        self._cwd = cwd
        self._stage = stage
        self.process = None

    def start(self, timeout=READY_TIMEOUT):
        """Start the server; return once it listens, or raise ``OpsError`` saying why not."""
        ready_read, ready_write = os.pipe()
        command = [
            sys.executable, "-m", "ops.local.server",
            "--port", str(self.port), "--stage", self._stage,
            "--ready-fd", str(ready_write), "--exit-with-stdin",
        ]  # fmt: skip
        try:
            # A fixed argument list (no shell): the venv's python, a module, integers.
            self.process = subprocess.Popen(  # noqa: S603
                command,
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.PIPE,  # the lifeline: never written, closed when we die
                pass_fds=(ready_write,),
                start_new_session=True,
            )
        finally:
            os.close(ready_write)
        with os.fdopen(ready_read, "rb") as ready:
            answer = _read_line(ready, self.process, timeout)
        if answer == "ready":
            return
        self.stop()
        if answer.startswith("error "):
            raise OpsError(f"run: {answer.removeprefix('error ')}")
        if answer == "timeout":
            raise OpsError(f"run: the API server did not listen on port {self.port} in {timeout} s")
        raise OpsError(f"run: the API server exited at start (code {self.process.returncode})")

    def wait(self):
        return self.process.wait()

    def stop(self):
        return terminate(self.process, timeout=10)


def terminate(process, timeout):
    """SIGTERM ``process``, SIGKILL it if it still runs after ``timeout`` s; True if it ran."""
    if process is None or process.poll() is not None:
        return False
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return True


def _read_line(pipe, process, timeout):
    """The server's one readiness line, "timeout", or "" when it exited without one."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        readable, _, _ = select.select([pipe], [], [], min(left, 0.5))
        if readable:
            chunk = os.read(pipe.fileno(), 4096)
            if not chunk:  # the server closed the pipe without a line: it is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
                break
            data += chunk
    return data.decode("utf-8", "replace").strip()
