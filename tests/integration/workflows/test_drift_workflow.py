"""drift.yml and drift-stage.yml: scheduled and dispatched, one call per stage, failing on drift."""

import pytest

from ops import stages
from tests.support.workflows import (
    WORKFLOW_DIR,
    called_workflow,
    environment_name,
    evaluate,
    load_workflow,
    make_targets,
    role_step,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "drift.yml")
JOBS = WORKFLOW["jobs"]
STAGE_WORKFLOW = load_workflow(WORKFLOW_DIR / "drift-stage.yml")
(STAGE_JOB,) = STAGE_WORKFLOW["jobs"].values()


def test_triggers_are_a_schedule_and_dispatch_by_stage():
    on = triggers(WORKFLOW)
    assert set(on) == {"schedule", "workflow_dispatch"}
    assert all(entry["cron"].split()[0].isdigit() for entry in on["schedule"])
    stage = on["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert stage["options"] == ["all", *stages.NAMES]


@pytest.mark.parametrize("stage", stages.NAMES)
def test_each_stage_calls_the_stage_workflow(stage):
    job = JOBS[f"drift-{stage}"]
    assert called_workflow(job) == STAGE_WORKFLOW["_path"]
    assert job["with"] == {"stage": stage}


def test_the_stage_job_runs_ops_drift_with_no_approval_no_lock_and_the_drift_role():
    assert environment_name(STAGE_JOB) is None  # nobody approves a read
    assert "concurrency" not in STAGE_JOB and "concurrency" not in STAGE_WORKFLOW
    assert role_step(STAGE_JOB)["with"]["role-to-assume"] == (
        "${{ vars[format('AWS_{0}_DRIFT_ROLE_ARN', inputs.stage)] }}"
    )
    assert STAGE_JOB["env"]["STAGE"] == "${{ inputs.stage }}"
    assert [line for step in steps(STAGE_JOB) for line in run_lines(step)] == [
        "make ops-venv",
        "make drift",
    ]
    # make drift is ops drift, whose exit code is 1 on drift: the job fails on drift.
    assert make_targets()["drift"][-1] == "$(OPS_PY) -m ops drift --stage $(STAGE)"


@pytest.mark.parametrize(
    ("event", "choice", "configured", "expected"),
    [
        ("schedule", None, True, set(stages.NAMES)),
        ("workflow_dispatch", "all", True, set(stages.NAMES)),
        ("workflow_dispatch", "dev", True, {"dev"}),
        ("workflow_dispatch", "prod", True, {"prod"}),
        ("schedule", None, False, set()),
    ],
)
def test_which_stages_are_checked(event, choice, configured, expected):
    ctx = {
        "github": {"event_name": event},
        "inputs": {"stage": choice} if choice else {},
        "vars": {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::1:role/plan"} if configured else {},
    }
    checked = {job["with"]["stage"] for job in JOBS.values() if evaluate(job["if"], ctx)}
    assert checked == expected
