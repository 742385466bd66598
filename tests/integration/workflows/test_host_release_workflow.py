"""host-release.yml: weekly, one job reads AWS, another proposes, and neither does the other's part.

The reading job runs in the reusable host-release-read.yml, so its OIDC subject names that file
(test_oidc.py checks the release role trusts exactly it). Syntax and expressions are actionlint's
job (make lint-workflows); these tests pin the design, evaluating the ``if:`` conditions as
GitHub would (tests/support/workflows.py).
"""

import pytest

from tests.support.workflows import (
    WORKFLOW_DIR,
    called_workflow,
    commands,
    environment_name,
    evaluate,
    has_id_token,
    load_workflow,
    make_targets,
    role_step,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "host-release.yml")
JOBS = WORKFLOW["jobs"]
READ = load_workflow(WORKFLOW_DIR / "host-release-read.yml")


def test_runs_weekly_and_by_hand():
    on = triggers(WORKFLOW)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (entry,) = on["schedule"]
    minute, hour, day, month, weekday = entry["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # once a week


def test_the_reading_job_assumes_the_read_only_release_role_and_cannot_write():
    call = JOBS["newest"]
    assert called_workflow(call) == READ["_path"]
    assert call["permissions"] == {"contents": "read", "id-token": "write"}
    (job,) = READ["jobs"].values()
    # No environment: the release role is no stage's deploy role, and reads nothing of a stage.
    assert environment_name(job) is None
    assert role_step(job)["with"]["role-to-assume"] == "${{ vars.AWS_RELEASE_ROLE_ARN }}"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert commands(job) == ["make ops-venv", "make host-release"]
    read = next(step for step in steps(job) if step.get("run") == "make host-release")
    # The next job reads what ops host-release writes to $GITHUB_OUTPUT, through the call.
    assert job["outputs"] == {
        "newest": f"${{{{ steps.{read['id']}.outputs.newest }}}}",
        "newer": f"${{{{ steps.{read['id']}.outputs.newer }}}}",
    }
    (read_job,) = READ["jobs"]
    outputs = triggers(READ)["workflow_call"]["outputs"]
    assert {name: o["value"] for name, o in outputs.items()} == {
        "newest": f"${{{{ jobs.{read_job}.outputs.newest }}}}",
        "newer": f"${{{{ jobs.{read_job}.outputs.newer }}}}",
    }


def test_the_proposing_job_writes_to_the_repository_without_aws():
    job = JOBS["propose"]
    assert job["needs"] == "newest"
    assert role_step(job) is None and not has_id_token(WORKFLOW, job)
    assert environment_name(job) is None
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert commands(job) == ["make ops-venv", "make host-release-propose"]
    (step,) = [s for s in steps(job) if s.get("run") == "make host-release-propose"]
    # The release reaches the command through env, never spliced into the script or recipe.
    assert job["env"]["RELEASE"] == "${{ needs.newest.outputs.newest }}"
    assert make_targets()["host-release-propose"] == [
        '$(OPS_PY) -m ops host-release --propose "$$RELEASE"'
    ]
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
        "vars": {"AWS_RELEASE_ROLE_ARN": "arn:aws:iam::1:role/release"} if configured else {},
    }
    ran = set()
    if evaluate(JOBS["newest"]["if"], context):
        ran.add("newest")
        context["needs"] = {"newest": {"outputs": {"newer": newer}}}
        if evaluate(JOBS["propose"]["if"], context):
            ran.add("propose")
    assert ran == runs
