"""host-release.yml: weekly, one job reads AWS, another proposes, and neither does the other's part.

Syntax and expressions are actionlint's job (make lint-workflows); these tests pin the design,
evaluating the ``if:`` conditions as GitHub would (tests/support/workflows.py).
"""

import pytest

from tests.support.workflows import (
    WORKFLOW_DIR,
    environment_name,
    evaluate,
    has_id_token,
    load_workflow,
    role_step,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "host-release.yml")
JOBS = WORKFLOW["jobs"]


def commands(job):
    return [line for step in steps(job) for line in run_lines(step)]


def test_runs_weekly_and_by_hand():
    on = triggers(WORKFLOW)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (entry,) = on["schedule"]
    minute, hour, day, month, weekday = entry["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # once a week


def test_the_reading_job_assumes_the_dev_role_and_cannot_write_to_the_repository():
    job = JOBS["newest"]
    assert environment_name(job) == "dev"
    assert role_step(job)["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert commands(job) == ["make venv", ".venv/bin/python -m ops host-release"]
    read = next(step for step in steps(job) if "host-release" in step.get("run", ""))
    # The next job reads what ops host-release writes to $GITHUB_OUTPUT.
    assert job["outputs"] == {
        "newest": f"${{{{ steps.{read['id']}.outputs.newest }}}}",
        "newer": f"${{{{ steps.{read['id']}.outputs.newer }}}}",
    }


def test_the_proposing_job_writes_to_the_repository_without_aws():
    job = JOBS["propose"]
    assert job["needs"] == "newest"
    assert role_step(job) is None and not has_id_token(WORKFLOW, job)
    assert environment_name(job) is None
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert commands(job) == [
        "make venv",
        '.venv/bin/python -m ops host-release --propose "$NEWEST"',
    ]
    (step,) = [s for s in steps(job) if "--propose" in s.get("run", "")]
    # The release reaches the command through env, never spliced into the script.
    assert step["env"]["NEWEST"] == "${{ needs.newest.outputs.newest }}"
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert step["env"]["GH_REPO"] == "${{ github.repository }}"


@pytest.mark.parametrize(
    ("configured", "newer", "runs"),
    [
        (True, "true", {"newest", "propose"}),
        (True, "false", {"newest"}),
        (False, "", set()),
    ],
)
def test_a_pull_request_is_proposed_only_for_a_newer_release(configured, newer, runs):
    context = {
        "github": {"event_name": "schedule"},
        "vars": {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::1:role/plan"} if configured else {},
    }
    ran = set()
    if evaluate(JOBS["newest"]["if"], context):
        ran.add("newest")
        context["needs"] = {"newest": {"outputs": {"newer": newer}}}
        if evaluate(JOBS["propose"]["if"], context):
            ran.add("propose")
    assert ran == runs
