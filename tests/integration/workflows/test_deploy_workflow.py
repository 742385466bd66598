"""deploy.yml: package once, dev then prod with the same artifact, infra -> migrate -> API -> smoke.

The ``if:`` conditions are evaluated (tests/support/workflows.py) for the events that matter:
a push to main, a dispatch for each stage, and a repository without AWS configured.
"""

import pytest

from ops import stages
from tests.support.workflows import (
    WORKFLOW_DIR,
    environment_name,
    evaluate,
    load_workflow,
    role_step,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "deploy.yml")
JOBS = WORKFLOW["jobs"]
CONFIGURED = {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/pets-github-plan"}


def contexts(event, stage=None, configured=True):
    return {
        "github": {"event_name": event, "ref": "refs/heads/main"},
        "inputs": {"stage": stage} if stage else {},
        "vars": CONFIGURED if configured else {},
    }


def commands(job):
    return [line for step in steps(job) for line in run_lines(step)]


def test_triggers_are_push_to_main_and_dispatch_with_a_stage_choice():
    on = triggers(WORKFLOW)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"]}
    stage = on["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert tuple(stage["options"]) == stages.NAMES
    assert stage["default"] == "dev"


def test_one_deploy_job_per_stage_in_its_environment():
    assert {environment_name(job) for job in JOBS.values()} - {None} == set(stages.NAMES)
    for stage in stages.NAMES:
        assert environment_name(JOBS[f"deploy-{stage}"]) == stage


def test_package_runs_once_without_aws_and_uploads_build_api():
    package = JOBS["package"]
    assert commands(package) == ["make package"]
    assert role_step(package) is None and "environment" not in package
    upload = next(s for s in steps(package) if s.get("uses", "").startswith("actions/upload-"))
    assert upload["with"]["path"] == "build/api"
    assert upload["with"]["if-no-files-found"] == "error"
    for stage in stages.NAMES:
        job = JOBS[f"deploy-{stage}"]
        assert "make package" not in commands(job), "a stage must not rebuild: promote"
        download = next(s for s in steps(job) if s.get("uses", "").startswith("actions/download-"))
        assert download["with"] == {"name": upload["with"]["name"], "path": "build/api"}


@pytest.mark.parametrize("stage", stages.NAMES)
def test_stage_order_is_infra_migrate_api_smoke(stage):
    job = JOBS[f"deploy-{stage}"]
    assert commands(job) == [
        "make venv",
        f"make deploy-infra STAGE={stage}",
        f"make migrate-stage STAGE={stage}",
        f"make deploy-api STAGE={stage}",
        f"make smoke STAGE={stage}",
    ]
    order = [s.get("uses", "").split("@")[0] or run_lines(s)[0] for s in steps(job)]
    # Credentials and the artifact are in place before the first AWS step.
    assert order.index("aws-actions/configure-aws-credentials") < order.index(
        f"make deploy-infra STAGE={stage}"
    )
    assert order.index("actions/download-artifact") < order.index(f"make deploy-api STAGE={stage}")


def test_prod_runs_exactly_the_steps_dev_ran():
    dev = str(steps(JOBS["deploy-dev"])).replace("dev", "<stage>")
    prod = str(steps(JOBS["deploy-prod"])).replace("prod", "<stage>")
    assert dev == prod


def test_prod_needs_dev_in_the_same_run():
    needs = JOBS["deploy-prod"]["needs"]
    assert "deploy-dev" in needs and "package" in needs
    assert JOBS["deploy-dev"]["needs"] == "package"


@pytest.mark.parametrize(
    ("event", "stage", "configured", "expected"),
    [
        ("push", None, True, {"deploy-dev", "deploy-prod"}),
        ("workflow_dispatch", "dev", True, {"deploy-dev"}),
        ("workflow_dispatch", "prod", True, {"deploy-dev", "deploy-prod"}),
        ("push", None, False, set()),  # a fork or a repository without AWS: nothing deploys
    ],
)
def test_which_stages_deploy(event, stage, configured, expected):
    ctx = contexts(event, stage, configured)
    chosen = {
        name
        for name, job in JOBS.items()
        if name.startswith("deploy-") and evaluate(job.get("if", "true"), ctx)
    }
    assert chosen == expected
    assert "if" not in JOBS["package"]  # packaging is always checked, AWS or not


def test_role_sessions_are_named_per_stage_and_run():
    for stage in stages.NAMES:
        step = role_step(JOBS[f"deploy-{stage}"])
        assert step["with"]["role-session-name"] == f"pets-deploy-{stage}-${{{{ github.run_id }}}}"
