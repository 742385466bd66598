"""TCP ports on this machine: is something listening there, can this run listen there."""

import errno
import socket


def reachable(host, port, timeout=1.0):
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listen_error(host, port):
    """Why this process could not listen on host:port, or None when it could.

    Binds the way ``http.server`` does (``SO_REUSEADDR``, so a port left in TIME_WAIT by a
    previous run counts as free) and lets go at once; the server binds again for real and
    reports its own failure too, since another program can take the port in between.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return describe_listen_error(host, port, exc)
    return None


def describe_listen_error(host, port, exc):
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by another program: stop it, or choose "
            f"another port (PORT={port + 1 if port < 65535 else 8000} make run)"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
