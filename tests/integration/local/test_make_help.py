"""``make help``: the targets, then the variables their descriptions name, with current values."""

import os
import re
import subprocess

from tests.support.processes import ROOT


def make_help(*overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("STAGE", "PORT", "PR_NUMBER")}
    result = subprocess.run(
        ["make", "--no-print-directory", "help", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_no_make_syntax_reaches_the_reader():
    assert "$" not in make_help()


def test_every_variable_a_description_names_is_listed_with_its_value():
    text = make_help("STAGE=prod", "PORT=9001")
    targets, _, variables = text.partition("Variables")
    named = set(re.findall(r"\b(STAGE|PORT|PR_NUMBER|PYTHON)\b", targets))
    assert named >= {"STAGE", "PORT", "PR_NUMBER"}
    for name in named:
        assert re.search(rf"\b{name}=", variables), name
    assert re.search(r"\bSTAGE=prod\b", variables)
    assert re.search(r"\bPORT=9001\b", variables)
    assert re.search(r"\bPORT=8000\b", make_help().partition("Variables")[2])
