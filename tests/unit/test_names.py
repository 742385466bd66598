"""How the {name} path parameter becomes a pet name (no I/O)."""

import sys
import unicodedata

import pytest

from chalicelib.names import InvalidName, decode_path_name, validate_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Fluffy", "Fluffy"),
        ("Zo%C3%AB", "Zoë"),  # what a browser sends
        ("Zo%c3%ab", "Zoë"),  # lower-case escapes are as good
        ("Mr.%20Whiskers%20%F0%9F%90%88", "Mr. Whiskers 🐈"),
        ("a%2Fb", "a/b"),
        ("50%25", "50%"),
        ("%2541", "%41"),  # decoded exactly once
        ("a+b", "a+b"),  # '+' is a space only in query strings, not in paths
        ("ZoÃ«", "Zoë"),  # raw UTF-8 bytes as chalice local's HTTP server hands them over (Latin-1)
        ("Zoë", "Zoë"),  # already text: taken as it is
        ("🐈", "🐈"),
        ("x" * 20, "x" * 20),
    ],
)
def test_decodes_the_name_the_url_stands_for(raw, name):
    assert decode_path_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("x" * 21, "at most 20"),
        ("%F0%9F%90%88" * 21, "at most 20"),
        ("a%00b", "control"),
        ("a%0Ab", "control"),
        ("%7F", "control"),
        ("%C2%85", "control"),  # C1 control (NEL)
        ("%FF", "UTF-8"),
        ("%C3", "UTF-8"),  # truncated sequence
        ("%ED%A0%80", "UTF-8"),  # a surrogate: not storable in utf8mb4
        ("%ZZ", "percent-encoded"),
        ("abc%", "percent-encoded"),
        ("%4", "percent-encoded"),
        ("", "empty"),
    ],
)
def test_rejects_names_no_pet_can_have(raw, reason):
    with pytest.raises(InvalidName, match=reason):
        decode_path_name(raw)


def test_control_characters_are_exactly_unicode_category_cc():
    """validate_name uses a character class instead of unicodedata: they must agree everywhere."""
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        is_control = unicodedata.category(ch) == "Cc"
        try:
            validate_name("a" + ch)
            rejected = False
        except InvalidName as exc:
            rejected = "control" in str(exc)
        assert rejected == is_control, hex(code)
