"""ci.yml: lint, test (on MySQL 8.0), package on every pull request and, called by deploy.yml, on
every push to main; the plan job (the reusable preview.yml) only where it can work (a
same-repository pull request in a repository with AWS configured), on the package job's
artifact."""

import re

import pytest

from ops import stages
from tests.support.workflows import (
    WORKFLOW_DIR,
    called_workflow,
    commands,
    environment_name,
    evaluate,
    expression_value,
    has_id_token,
    load_workflow,
    role_step,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "ci.yml")
JOBS = WORKFLOW["jobs"]
PREVIEW = load_workflow(WORKFLOW_DIR / "preview.yml")
(PREVIEW_JOB,) = PREVIEW["jobs"].values()
REPO = "owner/pets"


def test_triggers_are_pull_requests_and_calls_never_a_push():
    """A push runs CI only as deploy.yml's first job: once per commit, and gating the deploy."""
    assert set(triggers(WORKFLOW)) == {"pull_request", "workflow_call"}


def test_jobs_run_the_make_targets_a_developer_runs():
    assert commands(JOBS["lint"]) == ["make lint"]
    assert commands(JOBS["test"]) == ["make pytest"]
    assert commands(JOBS["package"]) == ["make package"]
    assert called_workflow(JOBS["plan"]) == PREVIEW["_path"]
    assert commands(PREVIEW_JOB) == ["make ops-venv", "make plan", "make plan-comment"]
    assert PREVIEW_JOB["env"] == {"STAGE": "${{ inputs.stage }}"}


def test_the_plan_previews_the_stage_ops_previews_with_the_package_job_artifact():
    (previewed,) = [s.name for s in stages.STAGES if s.previews_pull_requests]
    assert JOBS["plan"]["with"] == {"stage": previewed}
    assert JOBS["plan"]["needs"] == "package"
    upload = next(s for s in steps(JOBS["package"]) if "upload-artifact" in s.get("uses", ""))
    download = next(s for s in steps(PREVIEW_JOB) if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {"name": upload["with"]["name"], "path": "build/api"}


def test_database_tests_run_against_mysql_8_0_with_matching_settings():
    job = JOBS["test"]
    mysql = job["services"]["mysql"]
    assert mysql["image"] == "mysql:8.0"
    env = job["env"]
    host_port, _, container_port = mysql["ports"][0].partition(":")
    assert container_port == "3306" and env["DB_PORT"] == host_port
    assert env["DB_HOST"] == "127.0.0.1" and env["DB_USER"] == "root"
    service_env = mysql["env"]
    if service_env.get("MYSQL_ALLOW_EMPTY_PASSWORD") == "yes":
        assert env["DB_PASSWORD"] == ""
    else:
        assert env["DB_PASSWORD"] == service_env["MYSQL_ROOT_PASSWORD"]
    assert "mysqladmin ping" in mysql["options"], "tests must not start before MySQL answers"


def test_package_is_uploaded_as_an_artifact():
    upload = next(s for s in steps(JOBS["package"]) if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "build/api"
    assert upload["with"]["if-no-files-found"] == "error"


def test_only_the_plan_job_touches_aws_and_with_the_plan_role():
    for name, job in JOBS.items():
        assert role_step(job) is None, name
        assert (called_workflow(job) is not None) == (name == "plan"), name
    # No environment, so its OIDC context is pull_request (dev allows main only).
    assert environment_name(PREVIEW_JOB) is None
    assert role_step(PREVIEW_JOB)["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    permissions = {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert JOBS["plan"]["permissions"] == permissions == PREVIEW_JOB["permissions"]
    assert has_id_token(PREVIEW, PREVIEW_JOB)


def _plan_runs(event, head_repo=REPO, configured=True):
    ctx = {
        "github": {
            "event_name": event,
            "repository": REPO,
            "event": {"pull_request": {"head": {"repo": {"full_name": head_repo}}}}
            if event == "pull_request"
            else {},
        },
        "vars": {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::1:role/plan"} if configured else {},
    }
    return evaluate(JOBS["plan"]["if"], ctx)


@pytest.mark.parametrize(
    ("event", "head_repo", "configured", "runs"),
    [
        ("pull_request", REPO, True, True),
        ("pull_request", "someone/pets-fork", True, False),  # a fork gets no OIDC token
        ("pull_request", REPO, False, False),  # AWS not configured: skipped, not failed
        ("push", REPO, True, False),  # the plan role trusts pull requests only
    ],
)
def test_plan_job_runs_only_where_it_can_work(event, head_repo, configured, runs):
    assert _plan_runs(event, head_repo, configured) is runs


def test_plan_comment_gets_its_values_through_env_not_the_script():
    step = next(s for s in steps(PREVIEW_JOB) if "plan-comment" in s.get("run", ""))
    assert step["env"] == {
        "GH_TOKEN": "${{ github.token }}",
        "GH_REPO": "${{ github.repository }}",
        "PR_NUMBER": "${{ github.event.pull_request.number }}",
    }


def _group(event, ref, run_id):
    prefix, expression = re.fullmatch(
        r"([\w-]*)(\$\{\{.*\}\})", WORKFLOW["concurrency"]["group"]
    ).groups()
    github = {"event_name": event, "ref": ref, "run_id": run_id}
    return prefix + str(expression_value(expression, {"github": github}))


def test_superseded_pull_request_runs_are_cancelled_but_deploy_runs_never():
    concurrency = WORKFLOW["concurrency"]
    cancels = concurrency["cancel-in-progress"]
    pr = "refs/pull/7/merge"
    assert _group("pull_request", pr, "1") == _group("pull_request", pr, "2")
    assert evaluate(cancels, {"github": {"event_name": "pull_request"}})
    # Called by deploy.yml (the github context is the deploy run's): every run its own group,
    # so neither cancel-in-progress nor GitHub's one-pending-run rule touches another run.
    main = "refs/heads/main"
    for event in ("push", "workflow_dispatch"):
        assert _group(event, main, "1") != _group(event, main, "2")
        assert _group(event, main, "1") != _group("pull_request", main, "1")
        assert not evaluate(cancels, {"github": {"event_name": event}})


def test_the_plan_job_is_skipped_when_deploy_calls_ci():
    for event in ("push", "workflow_dispatch"):
        github = {"event_name": event, "repository": REPO, "event": {}}
        assert not evaluate(
            JOBS["plan"]["if"], {"github": github, "vars": {"AWS_PLAN_ROLE_ARN": "x"}}
        )


def test_ci_uploads_the_package_only_for_the_plan():
    """A deploy run's own package job uploads the artifact it promotes; two of one name in one
    run collide."""
    upload = next(s for s in steps(JOBS["package"]) if "upload-artifact" in s.get("uses", ""))
    assert evaluate(upload["if"], {"github": {"event_name": "pull_request"}})
    assert not evaluate(upload["if"], {"github": {"event_name": "push"}})


def test_the_preview_job_checks_out_the_full_history():
    """Its change sets carry the commit; whether it descends from the deployed one needs the
    commits in between (ops.cfn.order), which a default depth-1 checkout lacks."""
    (checkout,) = [
        s for s in steps(PREVIEW_JOB) if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkout["with"]["fetch-depth"] == 0
