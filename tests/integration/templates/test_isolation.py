"""Stage isolation in one shared account (topology b), decided by AWS's evaluation logic.

Every identity the templates give a stage (its GitHub deploy and plan roles, its CloudFormation
execution role, its host and API roles, a developer with its access policy) is asked, through
the IAM evaluator (tests/support/iam.py), for what an attacker holding it would want of the other
stage (tests/support/reach.py), and for what its own job needs. In one account per stage
(topology a) nothing crosses at all: no role trusts another account (test_bootstrap.py).

The GitHub trust conditions are read by tests/support/iam.py's reader of the two operators they
use, because the evaluator knows no claims of GitHub's token.
"""

import pytest

from ops import stages
from tests.support.iam import github_may_assume
from tests.support.identities import ACCOUNT, REGION
from tests.support.reach import (
    JOBS,
    OBJECTS,
    REACHES,
    Request,
    can,
    evaluate,
    identities_of,
    reach,
    stack,
)

OTHER = {"dev": "prod", "prod": "dev"}


def reaching(account, simulator, key, stage):
    other = OTHER[stage]
    return [
        who.name
        for who in identities_of(account, stage)
        if can(account, simulator, who, reach(key), own=stage, other=other)
    ]


# ------------------------------------------------------------------------ the known paths
def test_no_pipeline_identity_can_create_or_change_maintenance_window_tasks(account, simulator):
    """A window's targets are tag queries IAM never checks, and its tasks run any command as
    root: a dev window aimed at prod's Patch Group is a shell on prod's host."""
    for stage in stages.NAMES:
        assert reaching(account, simulator, "windows", stage) == [], stage


@pytest.mark.parametrize("stage", stages.NAMES)
def test_nothing_one_stage_can_write_is_read_by_the_other_stage_host_or_function(
    account, simulator, stage
):
    """A patch baseline override, a migration bundle or a CA bundle that dev can write and prod's
    host reads is code running as root on prod (AWS-RunPatchBaseline's BaselineOverride names an
    S3 object whose Sources replace the host's package repositories)."""
    assert reaching(account, simulator, "write-trusted", stage) == []


@pytest.mark.parametrize(
    "subject",
    [
        # A job that names environment dev, from a branch or with no subject customization.
        "repo:acme/pets:environment:dev",
        "repo:acme/pets:environment:dev:job_workflow_ref:"
        "acme/pets/.github/workflows/deploy-stage.yml@refs/heads/feature",
        # A workflow of its own, on main, naming the environment.
        "repo:acme/pets:environment:dev:job_workflow_ref:"
        "acme/pets/.github/workflows/mine.yml@refs/heads/main",
        # A pull request, and another repository's identical workflow.
        "repo:acme/pets:pull_request:job_workflow_ref:"
        "acme/pets/.github/workflows/deploy-stage.yml@refs/pull/7/merge",
        "repo:acme/other:environment:dev:job_workflow_ref:"
        "acme/other/.github/workflows/deploy-stage.yml@refs/heads/main",
    ],
)
def test_only_the_reusable_workflows_on_main_in_the_environment_get_the_deploy_role(
    account, subject
):
    assert not github_may_assume(account.trust("pets-github-deploy-dev"), subject)


def test_the_deploy_role_trusts_its_environment_in_the_deploy_workflow_on_main(account):
    workflows = "acme/pets/.github/workflows"
    subject = (
        f"repo:acme/pets:environment:dev:job_workflow_ref:{workflows}/deploy-stage.yml"
        "@refs/heads/main"
    )
    assert github_may_assume(account.trust("pets-github-deploy-dev"), subject)
    assert not github_may_assume(account.trust("pets-github-deploy-prod"), subject)
    # Drift and patch have roles of their own now, with no environment and no reviewer.
    for workflow in ("drift-stage.yml", "patch-stage.yml"):
        subject = (
            f"repo:acme/pets:environment:dev:job_workflow_ref:{workflows}/{workflow}"
            "@refs/heads/main"
        )
        assert not github_may_assume(account.trust("pets-github-deploy-dev"), subject), workflow


@pytest.mark.parametrize("kind", ["preview", "drift", "patch"])
def test_the_roles_without_an_environment_trust_their_workflow_on_main_only(account, kind):
    workflows = "acme/pets/.github/workflows"
    file = f"{kind}-stage.yml"
    trust = account.trust(f"pets-github-{kind}-prod")
    assert github_may_assume(
        trust,
        f"repo:acme/pets:ref:refs/heads/main:job_workflow_ref:{workflows}/{file}@refs/heads/main",
    )
    for subject in (
        "repo:acme/pets:ref:refs/heads/main",
        f"repo:acme/pets:ref:refs/heads/x:job_workflow_ref:{workflows}/{file}@refs/heads/x",
        f"repo:acme/pets:pull_request:job_workflow_ref:{workflows}/{file}@refs/pull/7/merge",
        f"repo:acme/pets:environment:prod:job_workflow_ref:{workflows}/{file}@refs/heads/main",
        f"repo:acme/pets:ref:refs/heads/main:job_workflow_ref:{workflows}/mine.yml@refs/heads/main",
        "repo:acme/other:ref:refs/heads/main:job_workflow_ref:"
        f"acme/other/.github/workflows/{file}@refs/heads/main",
    ):
        assert not github_may_assume(trust, subject), subject
    assert not github_may_assume(
        account.trust(f"pets-github-{kind}-dev"),
        f"repo:acme/pets:ref:refs/heads/main:job_workflow_ref:{workflows}/mine.yml@refs/heads/main",
    )


def test_the_plan_role_trusts_pull_requests_of_the_preview_workflow_only(account):
    (plan,) = account.pull_request_roles()
    trust = account.trust(plan.principal.rsplit("/", 1)[1])
    workflows = "acme/pets/.github/workflows"
    assert github_may_assume(
        trust,
        f"repo:acme/pets:pull_request:job_workflow_ref:{workflows}/preview.yml@refs/pull/7/merge",
    )
    for subject in (
        "repo:acme/pets:pull_request",
        f"repo:acme/pets:pull_request:job_workflow_ref:{workflows}/mine.yml@refs/pull/7/merge",
        f"repo:acme/pets:environment:dev:job_workflow_ref:{workflows}/preview.yml@refs/heads/main",
        "repo:acme/other:pull_request:job_workflow_ref:"
        "acme/other/.github/workflows/preview.yml@refs/pull/7/merge",
    ):
        assert not github_may_assume(trust, subject), subject
    assert not github_may_assume(
        trust,
        f"repo:acme/pets:pull_request:job_workflow_ref:{workflows}/preview.yml@refs/pull/7/merge",
        audience="sigstore",
    )


# ------------------------------------------------------------ every path of the same kind
CROSSING = [r.key for r in REACHES if r.crosses]


@pytest.mark.parametrize("key", CROSSING)
@pytest.mark.parametrize("stage", stages.NAMES)
def test_no_identity_of_a_stage_reaches_the_other_stage(account, simulator, stage, key):
    assert reaching(account, simulator, key, stage) == [], reach(key).text.format(
        own=stage, other=OTHER[stage]
    )


# ------------------------------------------------------------------------ their own jobs
@pytest.mark.parametrize("kind", sorted(JOBS))
@pytest.mark.parametrize("stage", stages.NAMES)
def test_each_identity_can_still_do_its_job(account, simulator, stage, kind):
    identity, job = JOBS[kind]
    who = identity(account, stage)
    refused = [
        f"{r.action} {r.resource}"
        for r in job(account, stage)
        if not evaluate(simulator, who, r).allowed
    ]
    assert refused == []


def test_the_plan_role_can_preview_its_stage(account, simulator):
    (previewed,) = [s.name for s in stages.STAGES if s.previews_pull_requests]
    (plan,) = account.pull_request_roles()
    assert can(account, simulator, plan, reach("preview"), own=previewed)
    assert not can(account, simulator, plan, reach("deploy"), own=previewed)


def test_the_release_role_trusts_the_release_reader_on_main_and_only_reads_releases(
    account, simulator
):
    """The host-release workflow's AWS job: one reusable workflow on main, no environment, two
    reads of AWS's public data and nothing of any stage."""
    (reader,) = [s.name for s in stages.STAGES if s.reads_host_releases]
    trust = account.trust(f"pets-github-release-{reader}")
    workflows = "acme/pets/.github/workflows"
    on_main = f"{workflows}/host-release-read.yml@refs/heads/main"
    assert github_may_assume(
        trust, f"repo:acme/pets:ref:refs/heads/main:job_workflow_ref:{on_main}"
    )
    for subject in (
        "repo:acme/pets:ref:refs/heads/main",
        f"repo:acme/pets:ref:refs/heads/x:job_workflow_ref:{workflows}/host-release-read.yml"
        "@refs/heads/x",
        f"repo:acme/pets:pull_request:job_workflow_ref:{workflows}/host-release-read.yml"
        "@refs/pull/7/merge",
        f"repo:acme/pets:environment:{reader}:job_workflow_ref:{on_main}",
        f"repo:acme/pets:ref:refs/heads/main:job_workflow_ref:{workflows}/mine.yml@refs/heads/main",
    ):
        assert not github_may_assume(trust, subject), subject
    role = account.release_role(reader)
    newest = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    allowed = [
        Request("ssm:GetParameter", f"arn:aws:ssm:{REGION}::parameter{newest}"),
        Request("ec2:DescribeImages", "*"),
    ]
    assert [evaluate(simulator, role, r).allowed for r in allowed] == [True, True]
    bucket = f"arn:aws:s3:::{account.artifacts_bucket(reader)}"
    refused = [
        Request("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/pets/x"),
        Request("cloudformation:DescribeStacks", stack(f"pets-{reader}-infra")),
        Request("s3:GetObject", f"{bucket}/api/x.zip"),
        Request("s3:PutObject", f"{bucket}/plan/x"),
        Request("ec2:DescribeInstances", "*"),
    ]
    assert [evaluate(simulator, role, r).allowed for r in refused] == [False] * len(refused)


# ------------------------------------------------- the roles of jobs with no environment
KEYS = (*OBJECTS, "locks/stage.json", "patch-output/ops/x/stdout")


def _writable(simulator, who, account):
    return [
        f"{bucket}/{key}"
        for bucket in (f"arn:aws:s3:::{account.artifacts_bucket(s)}" for s in stages.NAMES)
        for key in KEYS
        if evaluate(simulator, who, Request("s3:PutObject", f"{bucket}/{key}")).allowed
    ]


@pytest.mark.parametrize("stage", stages.NAMES)
def test_the_preview_role_writes_only_plan_and_executes_nothing(account, simulator, stage):
    """A preview runs with no reviewer: it may keep change sets, never run one, and never
    write what a host or function reads."""
    preview = account.preview_role(stage)
    bucket = f"arn:aws:s3:::{account.artifacts_bucket(stage)}"
    assert _writable(simulator, preview, account) == [f"{bucket}/plan/x"]
    for name in (f"pets-{stage}-infra", f"pets-{stage}-api"):
        for action in ("ExecuteChangeSet", "UpdateStack", "DeleteStack", "CreateStack"):
            request = Request(f"cloudformation:{action}", stack(name))
            assert not evaluate(simulator, preview, request).allowed, (action, name)


@pytest.mark.parametrize("stage", stages.NAMES)
def test_nothing_the_patch_role_writes_is_read_by_a_host_or_function(account, simulator, stage):
    """AWS-RunPatchBaseline's BaselineOverride names an S3 object the host reads as its
    repositories; IAM cannot forbid the parameter, so no such object may be the patch role's."""
    patch = account.patch_role(stage)
    bucket = f"arn:aws:s3:::{account.artifacts_bucket(stage)}"
    written = _writable(simulator, patch, account)
    assert written == [f"{bucket}/locks/stage.json"]
    readers = [
        who
        for s in stages.NAMES
        for who in (account.host_role(s), account.api_role(s), account.hook_role(s))
    ]
    for resource in written:
        for who in readers:
            assert not evaluate(simulator, who, Request("s3:GetObject", resource)).allowed, (
                who.name,
                resource,
            )


@pytest.mark.parametrize("stage", stages.NAMES)
@pytest.mark.parametrize("kind", ["preview", "drift", "patch"])
def test_no_role_without_a_reviewer_can_change_what_its_stage_runs(account, simulator, stage, kind):
    """Their jobs run on main with no environment, so prod's reviewers never see them: none may
    execute or change a stack, run anything on a host but the patch baseline and the release
    report (no parameters, it only reads), or write what a host or function reads."""
    who = getattr(account, f"{kind}_role")(stage)
    other = OTHER[stage]
    for key in ("deploy", "own-stacks", "own-documents", "own-shell", "write-own-trusted"):
        assert not can(account, simulator, who, reach(key), own=stage, other=other), key
    may_patch = can(account, simulator, who, reach("own-patch"), own=stage, other=other)
    assert may_patch == (kind == "patch")
    may_report = can(account, simulator, who, reach("own-release"), own=stage, other=other)
    assert may_report == (kind == "patch")
