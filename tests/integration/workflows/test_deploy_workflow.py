"""deploy.yml, deploy-stage.yml and preview-stage.yml: CI first, package once, then dev and, at
the same time, prod's preview; prod, once approved, executes exactly the previewed change sets
with the same artifact. Each stage deploy holds the stage's lock: lock -> infra -> migrate -> API
-> smoke -> unlock.

The ``if:`` conditions are evaluated (tests/support/workflows.py) for the events that matter:
a push to main, a dispatch for each stage, and a repository without AWS configured.
"""

import os
import subprocess

import pytest

from ops import stages
from tests.support.workflows import (
    ROOT,
    WORKFLOW_DIR,
    called_workflow,
    commands,
    environment_name,
    evaluate,
    load_workflow,
    make_targets,
    possible_values,
    role_step,
    role_steps,
    run_lines,
    steps,
    triggers,
)

WORKFLOW = load_workflow(WORKFLOW_DIR / "deploy.yml")
JOBS = WORKFLOW["jobs"]
STAGE_WORKFLOW = load_workflow(WORKFLOW_DIR / "deploy-stage.yml")
(STAGE_JOB,) = STAGE_WORKFLOW["jobs"].values()
PREVIEW_WORKFLOW = load_workflow(WORKFLOW_DIR / "preview-stage.yml")
(PREVIEW_JOB,) = PREVIEW_WORKFLOW["jobs"].values()
CI = load_workflow(WORKFLOW_DIR / "ci.yml")
PATCH_JOB = next(iter(load_workflow(WORKFLOW_DIR / "patch-stage.yml")["jobs"].values()))
CONFIGURED = {"AWS_PLAN_ROLE_ARN": "arn:aws:iam::123456789012:role/pets-github-plan-dev"}
CHECKOUT = "actions/checkout@"
UPLOAD = "actions/upload-artifact@"
DOWNLOAD = "actions/download-artifact@"
# What one deploy may take once it holds the lock: a first deploy creates an Aurora cluster
# (~20 min) and the infra update is watched for its rollback triggers.
DEPLOY_WORK_MINUTES = 110


def contexts(event, stage=None, configured=True):
    return {
        "github": {"event_name": event, "ref": "refs/heads/main"},
        "inputs": {"stage": stage} if stage else {},
        "vars": CONFIGURED if configured else {},
    }


def uses(step, action):
    return str(step.get("uses", "")).startswith(action)


def calls(workflow):
    """``{stage: job}`` for the jobs of deploy.yml that call ``workflow``."""
    return {
        job["with"]["stage"]: job
        for job in JOBS.values()
        if called_workflow(job) == workflow["_path"]
    }


def stage_calls():
    return calls(STAGE_WORKFLOW)


def needs(job):
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def test_triggers_are_push_to_main_and_dispatch_with_a_stage_choice():
    on = triggers(WORKFLOW)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"]}
    stage = on["workflow_dispatch"]["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert tuple(stage["options"]) == stages.NAMES
    assert stage["default"] == "dev"


def test_ci_runs_first_and_nothing_deploys_before_it_passed():
    """A commit deploys only after its own CI: every job needs ci, directly or through others."""
    (ci,) = [name for name, job in JOBS.items() if called_workflow(job) == CI["_path"]]
    assert "needs" not in JOBS[ci] and "if" not in JOBS[ci]
    assert needs(JOBS["package"]) == {ci}

    def upstream(name):
        found = set()
        for need in needs(JOBS[name]):
            found |= {need} | upstream(need)
        return found

    for name in JOBS:
        if name != ci:
            assert ci in upstream(name), name


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
    upload = next(s for s in steps(package) if uses(s, UPLOAD))
    assert upload["with"]["path"] == "build/api"
    assert upload["with"]["if-no-files-found"] == "error"
    assert "make package" not in commands(STAGE_JOB), "a stage must not rebuild: promote"
    for job in (STAGE_JOB, PREVIEW_JOB):
        download = next(s for s in steps(job) if uses(s, DOWNLOAD))
        assert download["with"]["name"] == upload["with"]["name"]
        assert download["with"]["path"] == "build/api"
    for job in [*stage_calls().values(), *calls(PREVIEW_WORKFLOW).values()]:
        assert "package" in needs(job)


def test_every_artifact_of_a_deploy_run_survives_re_runs():
    """A re-run of an uploading job replaces its artifact (upload-artifact fails on a name the
    run already holds, unless overwrite); a re-run of a downloading job alone finds the artifact
    an earlier attempt uploaded, through the REST API of the whole run."""
    uploads = [s for job in (JOBS["package"], PREVIEW_JOB) for s in steps(job) if uses(s, UPLOAD)]
    assert len(uploads) == 2
    names = [s["with"]["name"] for s in uploads]
    assert len(set(names)) == len(names)
    for step in uploads:
        assert step["with"]["overwrite"] is True, step["with"]["name"]
    for job in (STAGE_JOB, PREVIEW_JOB):
        downloads = [s for s in steps(job) if uses(s, DOWNLOAD)]
        assert downloads
        for step in downloads:
            assert step["with"]["github-token"] == "${{ github.token }}"
            assert step["with"]["run-id"] == "${{ github.run_id }}"
        assert job["permissions"]["actions"] == "read"
    for job in [*stage_calls().values(), *calls(PREVIEW_WORKFLOW).values()]:
        assert job["permissions"]["actions"] == "read"  # what the called job may be granted


def test_stage_order_is_lock_infra_migrate_api_smoke_unlock():
    assert STAGE_JOB["env"]["STAGE"] == "${{ inputs.stage }}"  # what the make targets read
    assert commands(STAGE_JOB) == [
        "make ops-venv",
        "make lock",
        "make deploy-infra",
        "make migrate-stage",
        "make deploy-api",
        "make smoke",
        "make unlock",
    ]
    order = [s.get("uses", "").split("@")[0] or run_lines(s)[0] for s in steps(STAGE_JOB)]
    # Credentials, the artifact and the lock are in place before the first change.
    assert order.index("aws-actions/configure-aws-credentials") < order.index("make lock")
    assert order.index("make lock") < order.index("make deploy-infra")
    assert order.index("actions/download-artifact") < order.index("make deploy-api")


@pytest.mark.parametrize("job", [STAGE_JOB, PATCH_JOB], ids=["deploy", "patch"])
def test_the_lock_is_released_whatever_happened(job):
    (unlock,) = [s for s in steps(job) if run_lines(s) == ["make unlock"]]
    assert steps(job)[-1] is unlock
    assert unlock["if"] == "always()"
    failed = {"needs": {}, "steps": {"deploy": {"outcome": "failure"}}}
    assert evaluate(unlock["if"], failed)
    # Every session the job holds outlasts the wait for the lock; the work gets a fresh one.
    sessions = [i for i, s in enumerate(steps(job)) if s in role_steps(job)]
    lock = next(i for i, s in enumerate(steps(job)) if run_lines(s) == ["make lock"])
    assert sessions[0] < lock < sessions[-1]
    assert len({s["with"]["role-to-assume"] for s in role_steps(job)}) == 1
    for session in role_steps(job):
        assert int(session["with"]["role-duration-seconds"]) == 7200


def test_a_deploy_and_a_patch_can_wait_for_each_other_and_still_finish():
    """No concurrency group: the lock makes them wait, inside the job's timeout."""
    assert STAGE_JOB["timeout-minutes"] >= 2 * DEPLOY_WORK_MINUTES  # another deploy, then this
    install = 60  # ops patch --timeout 3600 s, then the reboot check and the smoke test
    assert PATCH_JOB["timeout-minutes"] >= DEPLOY_WORK_MINUTES + install
    assert STAGE_JOB["timeout-minutes"] >= DEPLOY_WORK_MINUTES + install


def test_prod_needs_dev_and_its_preview_in_the_same_run():
    calls_ = stage_calls()
    assert needs(calls_["prod"]) >= {"package", "dev", "preview-prod"}
    assert needs(calls_["dev"]) == {"package"}
    preview = JOBS["preview-prod"]
    assert called_workflow(preview) == PREVIEW_WORKFLOW["_path"]
    assert preview["with"] == {"stage": "prod"}
    assert needs(preview) == {"package"}  # at the same time as dev


def test_prod_executes_the_preview_and_dev_deploys_directly():
    calls_ = stage_calls()
    assert calls_["prod"]["with"] == {"stage": "prod", "preview": True}
    assert calls_["dev"]["with"] == {"stage": "dev"}
    assert STAGE_WORKFLOW["on"]["workflow_call"]["inputs"]["preview"]["default"] is False
    # The preview job uploads what make preview writes; the deploy job downloads it where the
    # PREVIEW it hands make deploy-infra and make deploy-api points.
    assert "--out build/preview-$(STAGE).json" in " ".join(make_targets()["preview"])
    assert commands(PREVIEW_JOB) == ["make ops-venv", "make preview"]
    (upload,) = [s for s in steps(PREVIEW_JOB) if uses(s, UPLOAD)]
    assert upload["with"]["name"] == "preview-${{ inputs.stage }}"
    assert upload["with"]["path"] == "build/preview-${{ inputs.stage }}.json"
    (download,) = [s for s in steps(STAGE_JOB) if uses(s, DOWNLOAD) and "if" in s]
    assert download["if"] == "inputs.preview"
    assert download["with"]["name"] == upload["with"]["name"]
    assert download["with"]["path"] == "build"
    assert STAGE_JOB["env"]["PREVIEW"] == (
        "${{ inputs.preview && format('build/preview-{0}.json', inputs.stage) || '' }}"
    )


def test_the_preview_runs_without_an_environment_and_the_deploys_in_theirs():
    """Nobody approves the preview (it executes nothing); prod's deploy waits in prod."""
    assert environment_name(PREVIEW_JOB) is None
    assert environment_name(STAGE_JOB) == "${{ inputs.stage }}"
    assert sorted(possible_values(STAGE_WORKFLOW, STAGE_JOB, "${{ inputs.stage }}")) == sorted(
        stages.NAMES
    )
    assert tuple(stage_calls()) == stages.NAMES  # in deploy order


def test_the_environment_url_is_the_endpoint_deploy_api_reports():
    assert STAGE_JOB["environment"]["url"] == "${{ steps.api.outputs.url }}"
    (api,) = [s for s in steps(STAGE_JOB) if s.get("id") == "api"]
    assert run_lines(api) == ["make deploy-api"]


@pytest.mark.parametrize(
    ("event", "stage", "configured", "expected"),
    [
        ("push", None, True, {"dev", "preview-prod", "prod"}),
        ("workflow_dispatch", "dev", True, {"dev"}),
        ("workflow_dispatch", "prod", True, {"dev", "preview-prod", "prod"}),
        ("push", None, False, set()),  # a fork or a repository without AWS: nothing deploys
    ],
)
def test_which_stages_deploy(event, stage, configured, expected):
    ctx = contexts(event, stage, configured)
    chosen = {
        name
        for name, job in JOBS.items()
        if name in ("dev", "preview-prod", "prod") and evaluate(job.get("if", "true"), ctx)
    }
    assert chosen == expected
    assert "if" not in JOBS["package"]  # packaging is always checked, AWS or not


def test_role_sessions_are_named_per_stage_and_run():
    for step in role_steps(STAGE_JOB):
        assert step["with"]["role-session-name"] == (
            "pets-deploy-${{ inputs.stage }}-${{ github.run_id }}"
        )


@pytest.mark.parametrize("job", [STAGE_JOB, PREVIEW_JOB], ids=["deploy", "preview"])
def test_the_stage_jobs_check_out_the_full_history(job):
    """A deploy refuses a commit that does not descend from the deployed one (ops.cfn.order):
    git must have the commits in between, which a default depth-1 checkout lacks."""
    (checkout,) = [s for s in steps(job) if uses(s, CHECKOUT)]
    assert checkout["with"]["fetch-depth"] == 0


def _make(tmp_path, target, **env):
    stamp = tmp_path / "stamp"
    stamp.touch()  # newer than the requirements: make builds no venv
    result = subprocess.run(
        ["make", "-s", target, "OPS_PY=echo", f"OPS_STAMP={stamp}", "STAGE=prod"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "PREVIEW"}, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize("target", ["deploy-infra", "deploy-api"])
def test_preview_reaches_ops_as_one_argument_never_as_recipe_text(tmp_path, target):
    hostile = 'build/preview prod.json"; echo injected'
    assert _make(tmp_path, target, PREVIEW=hostile) == (
        f"-m ops {target} --stage prod --from {hostile}"
    )
    assert _make(tmp_path, target) == f"-m ops {target} --stage prod"
