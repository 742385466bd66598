"""The one HTTP client of ops: GET a URL and answer ``(status, headers, body)``.

Commands never open URLs themselves: they call ``ctx.fetch``, which is ``get`` outside tests.
An HTTP error status is an answer like any other (the smoke test wants to see a 404); only a
failure to get any answer at all raises, as one line.
"""

from typing import NamedTuple

from ops.errors import OpsError


class Response(NamedTuple):
    status: int
    headers: object  # an http.client.HTTPMessage: case-insensitive .get()
    body: bytes


def get(url, timeout=30.0, headers=None):
    # Deferred: urllib.request pulls in http.client, email and ssl, which local-only commands
    # (run, migrate) never need.
    import urllib.error  # noqa: PLC0415 -- see above
    import urllib.request  # noqa: PLC0415 -- see above

    if not url.startswith(("https://", "http://")):
        raise OpsError(f"refusing to fetch {url}: only http(s) URLs are fetched")
    request = urllib.request.Request(  # noqa: S310 -- the scheme is checked above
        url, headers={"User-Agent": "pets-ops", **(headers or {})}
    )
    try:
        with urllib.request.build_opener().open(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.headers, exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise OpsError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc


def get_body(fetch, url, timeout=30.0):
    """The body of a 200 answer to ``url`` through ``fetch``; anything else is a one-line error."""
    if not url.startswith("https://"):
        raise OpsError(f"refusing to download {url}: only https:// is allowed")
    answer = fetch(url, timeout=timeout)
    if answer.status != 200:
        raise OpsError(f"cannot download {url}: HTTP {answer.status}")
    return answer.body
