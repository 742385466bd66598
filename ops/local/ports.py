"""TCP ports on this machine: is something listening there."""

import socket


def reachable(host, port, timeout=1.0):
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
