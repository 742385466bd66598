"""Stand-ins for ``ops.http.get`` (a Context's ``fetch``) when a test needs no real server."""

from ops.http import Response


def answering(body, status=200, calls=None):
    """A fetch that answers every URL with ``body``; the URLs asked for go into ``calls``."""

    def fetch(url, timeout=None, headers=None):
        if calls is not None:
            calls.append(url)
        return Response(status, {}, body)

    return fetch


def no_network(url, timeout=None, headers=None):
    raise AssertionError(f"no download expected, but {url} was fetched")
