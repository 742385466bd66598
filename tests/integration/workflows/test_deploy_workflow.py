"""deploy.yml and deploy-stage.yml: package once, then one call of the reusable stage workflow per
stage (dev, then prod with the same artifact), each infra -> migrate -> API -> smoke.

The ``if:`` conditions are evaluated (tests/support/workflows.py) for the events that matter:
a push to main, a dispatch for each stage, and a repository without AWS configured.
"""

import pytest

from ops import stages
from tests.support.workflows import (
    WORKFLOW_DIR,
    called_workflow,
    environment_name,
    evaluate,
    load_workflow,
    possible_values,
    role_step,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "deploy.yml")
JOBS = WORKFLOW["jobs"]
STAGE_WORKFLOW = load_workflow(WORKFLOW_DIR / "deploy-stage.yml")
(STAGE_JOB,) = STAGE_WORKFLOW["jobs"].values()
CONFIGURED = {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/pets-github-plan-dev"}
CHECKOUT = "actions/checkout@"


def contexts(event, stage=None, configured=True):
    return {
        "github": {"event_name": event, "ref": "refs/heads/main"},
        "inputs": {"stage": stage} if stage else {},
        "vars": CONFIGURED if configured else {},
    }


def commands(job):
    return [line for step in steps(job) for line in run_lines(step)]


def stage_calls():
    """``{stage: job}`` for the jobs that call the stage workflow."""
    found = {}
    for job in JOBS.values():
        if called_workflow(job) == STAGE_WORKFLOW["_path"]:
            found[job["with"]["stage"]] = job
    return found


def test_triggers_are_push_to_main_and_dispatch_with_a_stage_choice():
    on = triggers(WORKFLOW)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"]}
    stage = on["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert tuple(stage["options"]) == stages.NAMES
    assert stage["default"] == "dev"


def test_one_call_of_the_stage_workflow_per_stage_each_in_its_environment():
    assert tuple(stage_calls()) == stages.NAMES  # in deploy order
    assert set(triggers(STAGE_WORKFLOW)) == {"workflow_call"}
    assert environment_name(STAGE_JOB) == "${{ inputs.stage }}"
    assert sorted(possible_values(STAGE_WORKFLOW, STAGE_JOB, "${{ inputs.stage }}")) == sorted(
        stages.NAMES
    )


def test_package_runs_once_without_aws_and_every_stage_deploys_its_artifact():
    package = JOBS["package"]
    assert commands(package) == ["make package"]
    assert role_step(package) is None and "environment" not in package
    upload = next(s for s in steps(package) if s.get("uses", "").startswith("actions/upload-"))
    assert upload["with"]["path"] == "build/api"
    assert upload["with"]["if-no-files-found"] == "error"
    assert "make package" not in commands(STAGE_JOB), "a stage must not rebuild: promote"
    download = next(
        s for s in steps(STAGE_JOB) if s.get("uses", "").startswith("actions/download-")
    )
    assert download["with"] == {"name": upload["with"]["name"], "path": "build/api"}
    for job in stage_calls().values():
        assert "package" in job["needs"]


def test_stage_order_is_infra_migrate_api_smoke():
    assert STAGE_JOB["env"]["STAGE"] == "${{ inputs.stage }}"  # what the make targets read
    assert commands(STAGE_JOB) == [
        "make ops-venv",
        "make deploy-infra",
        "make migrate-stage",
        "make deploy-api",
        "make smoke",
    ]
    order = [s.get("uses", "").split("@")[0] or run_lines(s)[0] for s in steps(STAGE_JOB)]
    # Credentials and the artifact are in place before the first AWS step.
    assert order.index("aws-actions/configure-aws-credentials") < order.index("make deploy-infra")
    assert order.index("actions/download-artifact") < order.index("make deploy-api")


def test_prod_needs_dev_in_the_same_run():
    calls = stage_calls()
    assert "dev" in calls["prod"]["needs"] and "package" in calls["prod"]["needs"]
    assert calls["dev"]["needs"] == "package"


@pytest.mark.parametrize(
    ("event", "stage", "configured", "expected"),
    [
        ("push", None, True, {"dev", "prod"}),
        ("workflow_dispatch", "dev", True, {"dev"}),
        ("workflow_dispatch", "prod", True, {"dev", "prod"}),
        ("push", None, False, set()),  # a fork or a repository without AWS: nothing deploys
    ],
)
def test_which_stages_deploy(event, stage, configured, expected):
    ctx = contexts(event, stage, configured)
    chosen = {name for name, job in stage_calls().items() if evaluate(job.get("if", "true"), ctx)}
    assert chosen == expected
    assert "if" not in JOBS["package"]  # packaging is always checked, AWS or not


def test_role_sessions_are_named_per_stage_and_run():
    step = role_step(STAGE_JOB)
    assert step["with"]["role-session-name"] == (
        "pets-deploy-${{ inputs.stage }}-${{ github.run_id }}"
    )


def test_the_stage_job_checks_out_the_full_history():
    """A deploy refuses a commit that does not descend from the deployed one (ops.cfn.order):
    git must have the commits in between, which a default depth-1 checkout lacks."""
    (checkout,) = [s for s in steps(STAGE_JOB) if str(s.get("uses", "")).startswith(CHECKOUT)]
    assert checkout["with"]["fetch-depth"] == 0
