"""The OIDC subjects the workflows present are exactly the ones the bootstrap's roles trust.

`python -m ops bootstrap` customizes the repository's subject to ``repo``, ``context`` and
``job_workflow_ref``: a job's token says
``repo:<owner>/<repo>:<context>:job_workflow_ref:<owner>/<repo>/.github/workflows/<file>@<ref>``,
where the context is ``environment:<name>`` for a job in an environment, ``pull_request`` for
a pull-request job without one and ``ref:<ref>`` for any other job without one (on main: the
host-release reader, and each stage's preview, drift and patch jobs), and ``<file>@<ref>`` is
the reusable workflow the job runs in and the ref it was called at (GitHub documents the claim
for jobs in reusable workflows, so every job that assumes a role runs in one). The roles
(cloudformation/bootstrap-stage.yaml, resolved for each stage by tests/support/identities.py)
must trust exactly what the workflows present when run the way they are triggered: from
``main`` (push, schedule, dispatch), or for a pull request.
"""

import pytest

from ops import stages
from tests.support.iam import document
from tests.support.identities import OWNER, REPO, Account
from tests.support.workflows import (
    callers,
    environment_name,
    evaluate,
    is_reusable,
    load_workflow,
    possible_values,
    role_step,
    role_steps,
    role_variable,
    triggers,
    workflow_files,
)

SUB = "token.actions.githubusercontent.com:sub"
MAIN = "refs/heads/main"
PULL_REQUEST = "refs/pull/*/merge"
CONFIGURED = {
    "AWS_PLAN_ROLE_ARN": "arn:aws:iam::111122223333:role/pets-github-plan-dev",
    "AWS_RELEASE_ROLE_ARN": "arn:aws:iam::111122223333:role/pets-github-release-dev",
}


def _events(workflow, job):
    """``[(event, spec)]`` a calling ``job`` of ``workflow`` runs for: its workflow's triggers,
    and for ``workflow_call`` those of the workflows calling it in turn (a called workflow's
    github context is its caller's)."""
    found = []
    for event, spec in triggers(workflow).items():
        if event == "workflow_call":
            for caller, caller_job in callers(workflow):
                found += _events(caller, caller_job)
        else:
            found.append((event, spec))
    same_repository = {"pull_request": {"head": {"repo": {"full_name": "o/r"}}}}
    return [
        (event, spec)
        for event, spec in found
        if evaluate(
            job.get("if", "true"),
            {
                "github": {"event_name": event, "repository": "o/r", "event": same_repository},
                "vars": CONFIGURED,
            },
        )
    ]


def _refs(workflow):
    """The refs a reusable workflow is called at: those of the events its callers run it for."""
    refs = set()
    for caller, job in callers(workflow):
        for event, spec in _events(caller, job):
            if event == "pull_request":
                refs.add(PULL_REQUEST)
            elif event == "push":
                assert (spec or {}).get("branches") == ["main"], "a deploy on a push not to main"
                refs.add(MAIN)
            elif event in ("schedule", "workflow_dispatch"):
                refs.add(MAIN)  # the default branch; dispatched elsewhere, the role refuses
            else:
                raise AssertionError(f"{caller['_path'].name}: what ref does {event} run at?")
    return refs


def presented():
    """``{role name: {subject}}`` for every job that assumes a role, in every way it runs."""
    found = {}
    for path in workflow_files():
        workflow = load_workflow(path)
        file = f"{OWNER}/{REPO}/.github/workflows/{path.name}"
        for job in workflow["jobs"].values():
            for step in role_steps(job):
                kind, per_stage = role_variable(step)
                env = environment_name(job)
                if kind == "deploy":
                    contexts = {
                        f"pets-github-deploy-{stage}": f"environment:{stage}"
                        for stage in possible_values(workflow, job, env)
                    }
                elif per_stage:
                    # The stage's own role, looked up by the stage the job works on.
                    assert env is None, path.name
                    assert job["env"]["STAGE"] == "${{ inputs.stage }}", path.name
                    contexts = {
                        f"pets-github-{kind}-{stage}": "ref:{ref}"
                        for stage in possible_values(workflow, job, "${{ inputs.stage }}")
                    }
                elif kind == "release":
                    assert env is None, path.name
                    (reader,) = [s.name for s in stages.STAGES if s.reads_host_releases]
                    contexts = {f"pets-github-release-{reader}": "ref:{ref}"}
                else:
                    assert kind == "plan" and env is None, path.name
                    (previewed,) = [s.name for s in stages.STAGES if s.previews_pull_requests]
                    contexts = {f"pets-github-plan-{previewed}": "pull_request"}
                for role_name, context in contexts.items():
                    for ref in _refs(workflow):
                        where = context.format(ref=ref)
                        subject = f"repo:{OWNER}/{REPO}:{where}:job_workflow_ref:{file}@{ref}"
                        found.setdefault(role_name, set()).add(subject)
    return found


def trusted(account, role_name):
    subjects = set()
    for statement in document(account.trust(role_name))["Statement"]:
        for operator in statement["Condition"].values():
            value = operator.get(SUB, [])
            subjects |= set(value if isinstance(value, list) else [value])
    return subjects


def test_every_job_that_assumes_a_role_runs_in_a_reusable_workflow():
    for path in workflow_files():
        workflow = load_workflow(path)
        for name, job in workflow["jobs"].items():
            if role_step(job) is not None:
                assert is_reusable(workflow), f"{path.name}:{name} is not in a reusable workflow"
                assert callers(workflow), f"{path.name}: nothing calls it"


@pytest.fixture(scope="module")
def account():
    return Account(
        stages.NAMES,
        parameters=lambda stage: {"PreviewPullRequests": "true", "ReadHostReleases": "true"},
    )


def test_the_roles_trust_exactly_the_subjects_the_workflows_present(account):
    found = presented()
    assert set(found) == {
        *(
            f"pets-github-{kind}-{stage}"
            for kind in ("deploy", "drift", "patch")
            for stage in stages.NAMES
        ),
        # Pull requests preview their stage with the plan role; deploy.yml previews prod.
        "pets-github-preview-prod",
        *(f"pets-github-plan-{s.name}" for s in stages.STAGES if s.previews_pull_requests),
        *(f"pets-github-release-{s.name}" for s in stages.STAGES if s.reads_host_releases),
    }
    for role_name, subjects in found.items():
        assert trusted(account, role_name) == subjects, role_name


def test_deploys_and_release_reads_run_from_main_and_previews_from_pull_requests():
    """What makes the refs above: a deploy-role or release-role job never runs for a pull
    request."""
    from_main, plan = set(), set()
    for role_name, subjects in presented().items():
        refs = {subject.rsplit("@", 1)[1] for subject in subjects}
        (plan if "plan" in role_name else from_main).update(refs)
    assert from_main == {MAIN}
    assert plan == {PULL_REQUEST}
