"""drift.yml: scheduled and dispatched, one job per stage, failing on drift."""

import pytest

from ops import stages
from tests.support.workflows import (
    WORKFLOW_DIR,
    environment_name,
    evaluate,
    load_workflow,
    make_targets,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "drift.yml")
JOBS = WORKFLOW["jobs"]


def test_triggers_are_a_schedule_and_dispatch_by_stage():
    on = triggers(WORKFLOW)
    assert set(on) == {"schedule", "workflow_dispatch"}
    assert all(entry["cron"].split()[0].isdigit() for entry in on["schedule"])
    stage = on["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert stage["options"] == ["all", *stages.NAMES]


@pytest.mark.parametrize("stage", stages.NAMES)
def test_each_stage_has_a_drift_job_running_ops_drift(stage):
    job = JOBS[f"drift-{stage}"]
    assert environment_name(job) == stage
    assert [line for step in steps(job) for line in run_lines(step)] == [
        "make venv",
        f"make drift STAGE={stage}",
    ]
    # make drift is ops drift, whose exit code is 1 on drift: the job fails on drift.
    assert make_targets()["drift"][-1] == "$(PY) -m ops drift --stage $(STAGE)"


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
    checked = {environment_name(job) for job in JOBS.values() if evaluate(job["if"], ctx)}
    assert checked == expected
