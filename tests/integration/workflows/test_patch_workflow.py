"""patch.yml and patch-stage.yml keep the promises docs/patching.md makes about them.

Syntax and expressions are actionlint's job (make lint-workflows); these tests pin the design:
triggers and inputs, least privilege, the shared per-stage concurrency group, thin steps, the
smoke test after an Install, and a schedule that reports after AWS's Install.
"""

import re

from tests.support.workflows import (
    ROOT,
    WORKFLOW_DIR,
    called_workflow,
    load_template,
    load_workflow,
    make_targets,
    possible_values,
    run_lines,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "patch.yml")
(CALL,) = WORKFLOW["jobs"].values()
STAGE_WORKFLOW = load_workflow(WORKFLOW_DIR / "patch-stage.yml")
(JOB,) = STAGE_WORKFLOW["jobs"].values()


def test_runs_weekly_and_by_hand_with_stage_and_operation():
    on = triggers(WORKFLOW)
    (schedule,) = on["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # once a week
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["stage"]["options"] == ["dev", "prod"]
    assert inputs["operation"]["options"] == ["Scan", "Install"]


def test_the_schedule_reports_on_dev_then_prod_through_the_stage_workflow():
    assert called_workflow(CALL) == STAGE_WORKFLOW["_path"]
    assert CALL["strategy"]["max-parallel"] == 1 and CALL["strategy"]["fail-fast"] is True
    assert sorted(set(possible_values(STAGE_WORKFLOW, JOB, "${{ inputs.stage }}"))) == [
        "dev",
        "prod",
    ]
    # AWS installs on its own schedule: the workflow's schedule reports (a Scan); a manual run
    # does what it was asked.
    assert "'schedule' && 'Scan' || inputs.operation" in CALL["with"]["operation"]


def test_least_privilege_and_oidc_only_on_the_job():
    assert STAGE_WORKFLOW["permissions"] == {"contents": "read"}
    assert JOB["permissions"] == {"contents": "read", "id-token": "write"}
    assert JOB["environment"] == "${{ inputs.stage }}"
    assert JOB["concurrency"] == {"group": "pets-${{ inputs.stage }}", "cancel-in-progress": False}


def test_steps_only_call_make_and_smoke_after_install():
    runs = [step for step in JOB["steps"] if "run" in step]
    assert [run_lines(step) for step in runs] == [
        ["make ops-venv"],
        ["make patch"],
        ["make smoke"],
    ]
    assert runs[-1]["if"] == "inputs.operation == 'Install'"
    assert JOB["env"] == {"STAGE": "${{ inputs.stage }}", "OPERATION": "${{ inputs.operation }}"}
    assert make_targets()["patch"] == [
        "$(OPS_PY) -m ops patch --stage $(STAGE) --operation $(OPERATION) --reboot-if-needed"
    ]


def test_the_scheduled_report_runs_after_the_weekly_install_aws_runs():
    """The report is about the week's Install: same day, later (both UTC)."""
    (schedule,) = triggers(WORKFLOW)["schedule"]
    minute, hour, _, _, weekday = schedule["cron"].split()
    install = load_template(ROOT / "cloudformation" / "infra.yaml")["Parameters"]
    fields = re.fullmatch(r"cron\((.*)\)", install["PatchInstallSchedule"]["Default"]).group(1)
    install_minute, install_hour, _, _, install_day, _ = fields.split()
    days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # GitHub's cron counts from Sunday
    assert days[int(weekday)] == install_day
    assert (int(hour), int(minute)) > (int(install_hour), int(install_minute))
