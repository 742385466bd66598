"""A TCP proxy in front of the real database, for fault tests.

It forwards bytes both ways and can, on command, stop answering (``freeze``: a hanging server),
drop every open connection (``drop_all``: a server restart as clients see it), drop them and turn
new ones away until ``restore`` (``cut``: a server that is down for a while, as during a restart
or a failover), or refuse new connections for good (``close``). ``accepted`` counts the
connections it let through, so a test can tell which of two proxies a client used. The database
behind it is real; only the network path is controlled.
"""

import contextlib
import socket
import threading
import time


class TcpProxy:
    def __init__(self, target_host, target_port):
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._frozen = threading.Event()
        self._cut = threading.Event()
        self.accepted = 0
        self._conns = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def freeze(self):
        """Keep connections open but pass nothing on: the server hangs."""
        self._frozen.set()

    def thaw(self):
        self._frozen.clear()

    def cut(self):
        """Drop every connection and close each new one at once, until ``restore``."""
        self._cut.set()
        self.drop_all()

    def restore(self):
        self._cut.clear()

    def drop_all(self):
        """Close every open connection, as a server restart does."""
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self):
        self._closed = True
        self._listener.close()
        self.drop_all()

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()  # the client reads end-of-file before any greeting: a reset
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self._frozen.is_set() and not self._closed:
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


class SilentServer:
    """Accepts TCP connections and never says a word: a database that hangs before its greeting."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    @property
    def connections(self):
        """How many connections it has accepted so far."""
        return len(self._held)

    def close(self):
        self._listener.close()
        for conn in self._held:
            conn.close()


def free_port():
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def speaks(port, hello, expected_prefixes, timeout=1.0):
    """True when the server on 127.0.0.1:port answers ``hello`` with one of the prefixes."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(hello)
            answer = sock.recv(16)
    except OSError:
        return False
    return answer.startswith(tuple(expected_prefixes))


def speaks_redis(port=6379):
    return speaks(port, b"PING\r\n", [b"+PONG", b"-NOAUTH"])


def speaks_postgresql(port=5432):
    # An SSLRequest (length 8, code 80877103): PostgreSQL answers one byte, S or N.
    return speaks(port, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", [b"S", b"N"])
