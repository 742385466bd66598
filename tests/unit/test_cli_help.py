"""``python -m ops --help`` and every command's ``--help``: options explained, defaults shown.

Built in-process from ``ops.cli.build_parser``, as the CLI builds them; nothing is run.
"""

import argparse
import re

import pytest

from ops.cli import COMMANDS, build_parser


def command_parser(name):
    parser = build_parser([name])
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[name]


def option_help(parser, option):
    """The rendered help of one option: its lines up to the next option."""
    lines = parser.format_help().splitlines()
    lines = lines[lines.index("options:") :]
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(option))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if line.strip().startswith("-") or not line.startswith(" " * 6):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_says_what_it_does_and_its_default(name):
    parser = command_parser(name)
    assert parser.description, f"{name} has no description"
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        option = action.option_strings[-1]
        assert action.help, f"{name} {option} has no help"
        takes_value = action.nargs != 0
        if takes_value and action.default not in (None, []):
            assert "default" in option_help(parser, option), f"{name} {option} hides its default"


def test_defaults_are_shown_as_an_operator_types_them():
    migrate = command_parser("migrate")
    assert "(default: sql/migrations)" in option_help(migrate, "--migrations-dir")
    assert "(default: 900)" in option_help(migrate, "--timeout")


def test_the_overview_says_what_the_tool_is_for_and_how_to_call_it():
    text = build_parser([]).format_help()
    listed = [
        m.group(1) for m in (re.match(r"^ {4}(\S+)", line) for line in text.splitlines()) if m
    ]
    # Serve it here, then package, deploy, check and read the logs, in that order.
    order = ["run", "package-api", "deploy-infra", "deploy-api", "smoke", "logs"]
    assert [name for name in listed if name in order] == order
    assert "OPS_DEBUG=1" in text  # how to see a traceback
    for way in ("python -m ops COMMAND", ".venv/bin/python -m ops COMMAND", "make run"):
        assert way in text
