"""``.github/workflows/patch.yml`` keeps the promises docs/patching.md makes about it.

Syntax and expressions are actionlint's job (make lint-workflows); these tests pin the design:
triggers and inputs, least privilege, pinned actions, the shared per-stage concurrency group,
thin steps, the smoke test after an Install, and a schedule that reports after AWS's Install.
"""

import re
from pathlib import Path

import pytest
import yaml

from tests.support.workflows import ROOT, load_template

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "patch.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow():
    text = WORKFLOW.read_text()
    data = yaml.safe_load(text)
    data["on"] = data.pop(True)  # YAML 1.1 reads the bare key `on` as true
    return data, text


def test_runs_weekly_and_by_hand_with_stage_and_operation(workflow):
    data, _ = workflow
    (schedule,) = data["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # once a week
    inputs = data["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stage"]["options"] == ["dev", "prod"]
    assert inputs["operation"]["options"] == ["Scan", "Install"]


def test_least_privilege_and_oidc_only_on_the_job(workflow):
    data, _ = workflow
    assert data["permissions"] == {"contents": "read"}
    (job,) = data["jobs"].values()
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["environment"] == "${{ matrix.stage }}"
    assert job["concurrency"] == {"group": "pets-${{ matrix.stage }}", "cancel-in-progress": False}


def test_actions_are_pinned_to_commits_with_a_version_comment(workflow):
    data, text = workflow
    (job,) = data["jobs"].values()
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert "aws-actions/configure-aws-credentials" in " ".join(uses)
    for action in uses:
        assert PINNED.match(action), action
        assert re.search(re.escape(action) + r" # v\d+\.\d+\.\d+\n", text), action
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False


def test_steps_only_call_make_or_python_m_ops_and_smoke_after_install(workflow):
    data, _ = workflow
    (job,) = data["jobs"].values()
    runs = [step for step in job["steps"] if "run" in step]
    for step in runs:
        assert re.match(r"^(make |\.venv/bin/python -m ops )", step["run"]), step["run"]
    patch, smoke = runs[-2:]
    assert patch["run"].startswith('.venv/bin/python -m ops patch --stage "$STAGE" --operation')
    assert smoke["run"] == '.venv/bin/python -m ops smoke --stage "$STAGE"'
    assert smoke["if"] == "env.OPERATION == 'Install'"
    # AWS installs on its own schedule: the workflow's schedule reports (a Scan); a manual run
    # does what it was asked.
    assert "'schedule' && 'Scan' || inputs.operation" in job["env"]["OPERATION"]
    # Inputs reach the shell through env, never spliced into the script text.
    assert all("${{" not in step["run"] for step in runs)


def test_the_scheduled_report_runs_after_the_weekly_install_aws_runs(workflow):
    """The report is about the week's Install: same day, later (both UTC)."""
    data, _ = workflow
    (schedule,) = data["on"]["schedule"]
    minute, hour, _, _, weekday = schedule["cron"].split()
    install = load_template(ROOT / "cloudformation" / "infra.yaml")["Parameters"]
    fields = re.fullmatch(r"cron\((.*)\)", install["PatchInstallSchedule"]["Default"]).group(1)
    install_minute, install_hour, _, _, install_day, _ = fields.split()
    days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # GitHub's cron counts from Sunday
    assert days[int(weekday)] == install_day
    assert (int(hour), int(minute)) > (int(install_hour), int(install_minute))
