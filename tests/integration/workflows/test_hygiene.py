"""Rules every workflow in .github/workflows follows (deploy, ci, drift, and patch when merged).

* top-level ``permissions: contents: read``; ``id-token: write`` exactly on the jobs that assume
  an AWS role (and on the jobs that call a reusable workflow that does), and never ``write-all``;
  ``contents: write`` only on the job that opens the release pull request, which holds no AWS
  credentials;
* every action pinned to a full commit SHA with a ``# vX.Y.Z`` comment; checkout never keeps the
  token (``persist-credentials: false``);
* ``run:`` steps call only ``make`` or ``python -m ops``, with no shell logic and no ``${{ }}``
  (values reach commands through ``env:``, which is not a template-injection path);
* no long-lived AWS keys anywhere: roles are assumed through OIDC, from repository/environment
  *variables* (an ARN is not a secret);
* a job in an environment names only its stage and assumes only that stage's deploy role; the
  preview, drift and patch roles of a stage are assumed outside any environment (nobody
  approves them); no job that assumes a stage's role sits in a concurrency group (GitHub would
  cancel a pending one: the stage's lock orders deploys and patches instead), and nothing
  outside a pull request is ever cancelled in progress;
* a job that holds AWS credentials installs only the hash-checked ops venv.
"""

import re

import pytest

from ops import stages
from tests.support.workflows import (
    CONFIGURE_AWS,
    ROOT,
    STAGE_REGION,
    called_workflow,
    callers,
    environment_name,
    evaluate,
    has_id_token,
    job_permissions,
    load_workflow,
    possible_values,
    role_step,
    role_steps,
    role_variable,
    run_lines,
    steps,
    workflow_files,
)

FILES = workflow_files()
IDS = [path.name for path in FILES]
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")
# A reusable workflow of this repository runs at the caller's own commit: nothing to pin.
LOCAL = re.compile(r"^\s*uses:\s+\./\.github/workflows/[\w.-]+\.yml\s*$")
# `.venv/bin/python -m ops` is `python -m ops` with the interpreter `make venv` prepared.
ALLOWED_RUN = re.compile(r"^(make|(\.venv/bin/)?python -m ops)( [\w./=:,\"$-]+)*$")
SHELL_LOGIC = re.compile(r"[;&|<>`]|\$\(|\$\{\{")


def jobs_of(path):
    workflow = load_workflow(path)
    return workflow, workflow["jobs"]


def test_the_three_workflows_exist():
    assert {"ci.yml", "deploy.yml", "drift.yml"} <= set(IDS)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_top_level_permissions_are_read_only(path):
    workflow = load_workflow(path)
    assert workflow.get("permissions") == {"contents": "read"}


def _assumes_a_role(job):
    called = called_workflow(job)
    if called is not None:  # the caller grants the called workflow's jobs their permissions
        return any(_assumes_a_role(j) for j in load_workflow(called)["jobs"].values())
    return role_step(job) is not None


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_id_token_only_on_jobs_that_assume_a_role(path):
    workflow, jobs = jobs_of(path)
    for name, job in jobs.items():
        perms = job_permissions(workflow, job)
        assert perms != "write-all", f"{name}: write-all"
        assumes = _assumes_a_role(job)
        assert has_id_token(workflow, job) == assumes, (
            f"{path.name}:{name}: id-token: write must be present exactly when the job assumes "
            "an AWS role"
        )
        if "permissions" in job:
            if job["permissions"].get("contents") == "write":
                _writes_only_to_propose(path, name, job, workflow)
            else:
                assert job["permissions"].get("contents") == "read", f"{name}: contents: read"


def _writes_only_to_propose(path, name, job, workflow):
    """Write access to the repository only where a job opens a pull request, and never in the
    same job as AWS credentials or a stage's environment."""
    assert role_step(job) is None and not has_id_token(workflow, job), f"{path.name}:{name}"
    assert environment_name(job) is None, f"{path.name}:{name}: no environment with write access"
    assert set(job["permissions"]) == {"contents", "pull-requests"}, f"{path.name}:{name}"
    commands = [line for step in steps(job) for line in run_lines(step)]
    assert commands == ["make ops-venv", "make host-release-propose"], f"{path.name}:{name}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_action_is_pinned_to_a_commit_sha_with_a_version_comment(path):
    lines = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert lines, "no actions at all?"
    for line in lines:
        assert PINNED.match(line) or LOCAL.match(line), (
            f"{path.name}: not pinned as <action>@<sha> # vX.Y.Z: {line}"
        )


# The first major of each action that runs on Node.js 24 (each action's release notes): GitHub
# retires the Node.js 20 runtime, so a pin below these would stop running.
NODE24_SINCE = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "aws-actions/configure-aws-credentials": 6,
}


def test_every_action_is_on_a_node24_major():
    pinned = {}
    for path in FILES:
        for line in path.read_text().splitlines():
            if match := PINNED.match(line):
                major = int(re.search(r"# v(\d+)\.", line).group(1))
                pinned.setdefault(match.group(1), set()).add(major)
    assert set(pinned) == set(NODE24_SINCE), "an action nobody checked for node24"
    old = {a: m for a, m in pinned.items() if min(m) < NODE24_SINCE[a]}
    assert old == {}, "pinned below the action's first node24 major"


def test_one_sha_per_action_across_workflows():
    """Two SHAs for one action would mean one of them escaped Dependabot's grouped update."""
    seen = {}
    for path in FILES:
        for match in filter(None, map(PINNED.match, path.read_text().splitlines())):
            seen.setdefault(match.group(1), set()).add(match.group(2))
    assert {action: shas for action, shas in seen.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_checkout_never_persists_the_token(path):
    _, jobs = jobs_of(path)
    for name, job in jobs.items():
        for step in steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, name


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_run_steps_call_only_make_or_python_m_ops(path):
    _, jobs = jobs_of(path)
    runs = 0
    for name, job in jobs.items():
        for step in steps(job):
            if "run" not in step:
                continue
            runs += 1
            assert "shell" not in step, f"{name}: a custom shell means a script"
            for line in run_lines(step):
                assert not SHELL_LOGIC.search(line), f"{path.name}:{name}: shell logic: {line!r}"
                assert ALLOWED_RUN.match(line), f"{path.name}:{name}: not make/ops: {line!r}"
    if not all(called_workflow(job) for job in jobs.values()):
        assert runs, "a workflow that runs nothing"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_long_lived_aws_keys(path):
    text = path.read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-session-token",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert forbidden not in text, forbidden
    workflow, jobs = jobs_of(path)
    for name, job in jobs.items():
        for step in role_steps(job):
            kind, per_stage = role_variable(step)  # a variable, never a key
            region = STAGE_REGION if per_stage else "${{ vars.AWS_REGION }}"
            assert step["with"]["aws-region"] == region, name
            assert "secrets." not in str(step), name


# Roles of one stage: the deploy role in the stage's environment (set there as
# AWS_DEPLOY_ROLE_ARN); the others as repository variables AWS_<STAGE>_<KIND>_ROLE_ARN.
# The plan and release roles serve the whole repository (one stage's bootstrap holds each).
ENVIRONMENT_ROLES = {"deploy"}
STAGE_ROLES = {"preview", "drift", "patch"}
REPOSITORY_ROLES = {"plan", "release"}


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_each_role_is_assumed_where_it_belongs(path):
    workflow, jobs = jobs_of(path)
    for name, job in jobs.items():
        env = environment_name(job)
        for step in role_steps(job):
            kind, per_stage = role_variable(step)
            if env is not None:
                assert (kind, per_stage) == ("deploy", False), f"{name}: {kind} in {env}"
                assert set(possible_values(workflow, job, env)) <= set(stages.NAMES), name
            elif per_stage:
                assert kind in STAGE_ROLES, f"{name}: {kind}"
            else:
                assert kind in REPOSITORY_ROLES, f"{name}: {kind} outside an environment"


def _concurrency(workflow, job):
    found = [c for c in (workflow.get("concurrency"), job.get("concurrency")) if c]
    return [c if isinstance(c, dict) else {"group": c} for c in found]


def test_no_job_that_assumes_a_stage_role_sits_in_a_concurrency_group():
    """GitHub keeps one pending run per group and cancels the older one: a pending deploy or
    patch could be cancelled by a newer run of anything in the group."""
    checked = 0
    for path in FILES:
        workflow, jobs = jobs_of(path)
        for name, job in jobs.items():
            kinds = {role_variable(step)[0] for step in role_steps(job)}
            if not kinds & (ENVIRONMENT_ROLES | STAGE_ROLES):
                continue
            checked += 1
            assert _concurrency(workflow, job) == [], f"{path.name}:{name}"
            for caller, calling_job in callers(workflow):
                assert _concurrency(caller, calling_job) == [], caller["_path"].name
    assert checked >= 4  # deploy, preview, drift, patch


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_pull_request_runs_are_ever_cancelled_in_progress(path):
    workflow, jobs = jobs_of(path)
    blocks = _concurrency(workflow, {}) + [c for j in jobs.values() for c in _concurrency({}, j)]
    for concurrency in blocks:
        cancels = concurrency.get("cancel-in-progress", False)
        for event in ("push", "schedule", "workflow_dispatch"):
            github = {"event_name": event, "ref": "refs/heads/main"}
            cancelled = (
                cancels if isinstance(cancels, bool) else evaluate(cancels, {"github": github})
            )
            assert not cancelled, f"{path.name}: a {event} run is cancelled in progress"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_a_stage_job_names_only_its_own_stage(path):
    """A dev job that ran `make deploy-api STAGE=prod` would deploy prod with dev's approval."""
    _, jobs = jobs_of(path)
    for name, job in jobs.items():
        env = environment_name(job)
        if env is None:
            continue
        # The make targets read STAGE from the job's environment: it is the environment itself.
        assert (job.get("env") or {}).get("STAGE", env) == env, f"{name}: STAGE is not {env}"
        for step in steps(job):
            for line in run_lines(step):
                named = re.findall(r"(?:STAGE=|--stage[ =])([\w\"$-]+)", line)
                assert set(named) <= {env, '"$STAGE"'}, f"{name} ({env}): {line}"
            assert all(
                f"pets-{other}-" not in str(step.get("name", ""))
                for other in stages.NAMES
                if other != env
            ), f"{name}: step name mentions another stage"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_jobs_with_aws_credentials_install_only_the_hash_pinned_ops_venv(path):
    """They run `make ops-venv` (requirements-ops.txt with --require-hashes) and make targets
    that use it, never the development venv or a pip install of their own."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(
        r"^\t\$\(OPS_PY\) -m pip install --quiet --require-hashes -r requirements-ops\.txt$",
        makefile,
        re.M,
    )
    _, jobs = jobs_of(path)
    for name, job in jobs.items():
        if role_step(job) is None:
            continue
        lines = [line for step in steps(job) for line in run_lines(step)]
        assert lines[0] == "make ops-venv", name
        for line in lines[1:]:
            target = line.split()[1]
            assert line.startswith("make ") and target != "venv", f"{name}: {line}"
            prerequisites = re.search(rf"^{target}:([^#\n]*)", makefile, re.M).group(1).split()
            assert "$(STAMP)" not in prerequisites, f"make {target} builds the development venv"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_role_steps_follow_a_checkout_and_nothing_continues_on_error(path):
    _, jobs = jobs_of(path)
    for name, job in jobs.items():
        assert "continue-on-error" not in job, name
        for step in steps(job):
            assert "continue-on-error" not in step, f"{name}: a failure must fail the job"
        uses = [str(step.get("uses", "")) for step in steps(job)]
        if any(u.startswith(CONFIGURE_AWS) for u in uses):
            assert uses[0].startswith("actions/checkout@"), name
