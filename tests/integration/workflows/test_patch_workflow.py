"""patch.yml and patch-stage.yml keep the promises docs/patching.md makes about them.

Syntax and expressions are actionlint's job (make lint-workflows); these tests pin the design:
triggers and inputs, least privilege, no approval and no concurrency group (the stage's lock),
thin steps, the smoke test after an Install, and a schedule that reports after AWS's Install.
"""

import re

import pytest

from tests.support.workflows import (
    ROOT,
    WORKFLOW_DIR,
    called_workflow,
    environment_name,
    evaluate,
    load_template,
    load_workflow,
    make_targets,
    possible_values,
    role_step,
    run_lines,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "patch.yml")
CALLS = WORKFLOW["jobs"]
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


def test_one_call_of_the_stage_workflow_per_stage_dev_first():
    assert {name: called_workflow(job) for name, job in CALLS.items()} == {
        "patch-dev": STAGE_WORKFLOW["_path"],
        "patch-prod": STAGE_WORKFLOW["_path"],
    }
    assert CALLS["patch-dev"]["with"]["stage"] == "dev"
    assert CALLS["patch-prod"]["with"]["stage"] == "prod"
    assert CALLS["patch-prod"]["needs"] == "patch-dev"
    for job in CALLS.values():
        assert "strategy" not in job  # fail-fast would cancel prod rather than skip it
        # AWS installs on its own schedule: the workflow's schedule reports (a Scan); a manual
        # run does what it was asked.
        assert "'schedule' && 'Scan' || inputs.operation" in job["with"]["operation"]
    assert sorted(set(possible_values(STAGE_WORKFLOW, JOB, "${{ inputs.stage }}"))) == [
        "dev",
        "prod",
    ]


CONFIGURED = {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::1:role/plan"}


@pytest.mark.parametrize(
    ("event", "stage", "dev_result", "expected"),
    [
        ("schedule", None, "success", {"patch-dev", "patch-prod"}),
        ("schedule", None, "failure", {"patch-dev"}),  # a failure on dev stops before prod
        ("workflow_dispatch", "dev", "success", {"patch-dev"}),
        ("workflow_dispatch", "prod", "skipped", {"patch-prod"}),
    ],
)
def test_which_stages_are_patched(event, stage, dev_result, expected):
    github = {"event_name": event}
    inputs = {"stage": stage} if stage else {}
    ctx = {"github": github, "inputs": inputs, "vars": CONFIGURED}
    ran = {"patch-dev"} if evaluate(CALLS["patch-dev"]["if"], ctx) else set()
    ctx["needs"] = {"patch-dev": {"result": dev_result if ran else "skipped"}}
    if evaluate(CALLS["patch-prod"]["if"], ctx):
        ran.add("patch-prod")
    assert ran == expected


def test_nothing_runs_where_aws_is_not_configured():
    ctx = {"github": {"event_name": "schedule"}, "inputs": {}, "vars": {}}
    assert not evaluate(CALLS["patch-dev"]["if"], ctx)
    ctx["needs"] = {"patch-dev": {"result": "skipped"}}
    assert not evaluate(CALLS["patch-prod"]["if"], ctx)


def test_least_privilege_no_approval_and_no_concurrency_group():
    assert STAGE_WORKFLOW["permissions"] == {"contents": "read"}
    assert JOB["permissions"] == {"contents": "read", "id-token": "write"}
    assert environment_name(JOB) is None  # nobody approves the weekly run
    assert "concurrency" not in JOB and "concurrency" not in STAGE_WORKFLOW
    assert role_step(JOB)["with"]["role-to-assume"] == (
        "${{ vars[format('AWS_{0}_PATCH_ROLE_ARN', inputs.stage)] }}"
    )


def test_steps_only_call_make_and_smoke_after_install():
    runs = [step for step in JOB["steps"] if "run" in step]
    assert [run_lines(step) for step in runs] == [
        ["make ops-venv"],
        ["make lock"],
        ["make patch"],
        ["make smoke"],
        ["make unlock"],
    ]
    assert runs[-2]["if"] == "inputs.operation == 'Install'"
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
