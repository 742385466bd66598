"""Turning the ``{name}`` path parameter into the name a pet is stored under.

API Gateway (REST, proxy integration) hands path parameters over exactly as they were in the URL,
percent-escapes included, and so does ``chalice local``. Browsers and curl percent-encode UTF-8,
so the name is the UTF-8 decoding of the percent-decoded bytes; it is decoded exactly once, so a
name that itself contains ``%41`` stays reachable as ``%2541``.

Some clients send raw (unescaped) UTF-8 in the path. Python's HTTP server, which ``chalice local``
uses, decodes the request line as Latin-1, so those bytes arrive as Latin-1 characters: they are
turned back into bytes before decoding. Anything that still is not valid UTF-8 is rejected.

A name that the ``pet`` table cannot hold is rejected before any query: empty, longer than
``MAX_NAME_LENGTH`` characters (``VARCHAR(20)`` counts code points, as ``len`` does), or holding
a control character.
"""

import re
from urllib.parse import unquote_to_bytes

MAX_NAME_LENGTH = 20

# A '%' not followed by two hex digits: the URL is malformed, not a name that contains '%'.
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# Unicode category Cc ("control") is exactly C0, DEL and C1; tests/unit/test_names.py checks this
# against unicodedata. A regex instead of unicodedata per character: on every request, and
# unicodedata is one import less at cold start.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class InvalidName(ValueError):
    """The path parameter cannot be the name of any pet. Its message is safe to show the caller."""


def decode_path_name(raw):
    """Return the pet name the path parameter ``raw`` stands for, or raise ``InvalidName``."""
    name = _decode(raw.encode("ascii")) if raw.isascii() else _decode_non_ascii(raw)
    validate_name(name)
    return name


def validate_name(name):
    """Raise ``InvalidName`` unless ``name`` could be stored in ``pet.name``."""
    if not name:
        raise InvalidName("The pet name is empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"A pet name has at most {MAX_NAME_LENGTH} characters.")
    if _CONTROL.search(name):
        raise InvalidName("A pet name cannot contain control characters.")


def _decode_non_ascii(raw):
    # Raw bytes that an HTTP server decoded as Latin-1 (chalice local) come back as those bytes;
    # text beyond Latin-1, or Latin-1 that is not UTF-8, is taken as the characters it shows.
    try:
        return _decode(raw.encode("latin-1"))
    except (UnicodeEncodeError, InvalidName):
        return _decode(raw.encode("utf-8"))


def _decode(data):
    if _BAD_ESCAPE.search(data):
        raise InvalidName("The pet name is not correctly percent-encoded.")
    try:
        return unquote_to_bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidName("The pet name is not valid UTF-8.") from None
