"""``python -m ops bootstrap`` against moto (both topologies) and a fake ``gh`` on PATH.

moto deploys the bootstrap templates through the same change sets as AWS would, with what it
supports: the roles, their trust and policies, the managed policies and the buckets. It skips,
with a warning, three resource types it has no CloudFormation support for: the GitHub OIDC
provider (so each account here already has one, which ops then reuses, as it would in an account
that has one), the buckets' policies, and API Gateway's account setting. Topology (a) uses two
moto accounts, reached with credentials of a role assumed in each, one "profile" per stage.
"""

import json

import boto3
import pytest

from ops.cli import main
from tests.support.aws import REGION, make_context
from tests.support.gh import FakeGh

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

DEV_ACCOUNT, PROD_ACCOUNT = "111111111111", "222222222222"
PROVIDER = "token.actions.githubusercontent.com"
REPO = "acme/pets"


def _provider(session):
    session.client("iam").create_open_id_connect_provider(
        Url=f"https://{PROVIDER}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )


def _session_in(account):
    """Credentials of a role assumed in ``account``: moto serves that account with them."""
    sts = boto3.client("sts", region_name=REGION)
    role = f"arn:aws:iam::{account}:role/admin"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="bootstrap")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


@pytest.fixture
def accounts(aws):
    """Profiles pets-dev and pets-prod, each an account of its own with a GitHub provider."""
    sessions = {"pets-dev": _session_in(DEV_ACCOUNT), "pets-prod": _session_in(PROD_ACCOUNT)}
    for session in sessions.values():
        _provider(session)
    return sessions


@pytest.fixture
def gh(tmp_path):
    return FakeGh(tmp_path / "gh")


def context(gh, sessions=None):
    env = {**gh.env(), "AWS_REGION": REGION}
    ctx = make_context(env=env)
    if sessions is not None:
        ctx.session_factory = lambda profile_name=None: sessions[profile_name]
    return ctx


def bootstrap(ctx, *args):
    return main(["bootstrap", "--repo", REPO, *args], ctx)


def stacks(session):
    return sorted(
        s["StackName"] for s in session.client("cloudformation").describe_stacks()["Stacks"]
    )


def trust(session, role):
    document = session.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def subjects(document):
    (statement,) = document["Statement"]
    for operator in statement["Condition"].values():
        if f"{PROVIDER}:sub" in operator:
            value = operator[f"{PROVIDER}:sub"]
            return value if isinstance(value, list) else [value]
    return []


# ---------------------------------------------------------------------------- topology (a)
def test_one_account_per_stage_gets_its_own_stacks_roles_and_variables(accounts, gh):
    ctx = context(gh, accounts)
    code = bootstrap(
        ctx, "--stage", "dev=pets-dev", "--stage", "prod=pets-prod", "--reviewer", "alice"
    )
    assert code == 0, ctx.err.getvalue()
    dev, prod = accounts["pets-dev"], accounts["pets-prod"]
    assert stacks(dev) == ["pets-bootstrap", "pets-bootstrap-dev"]
    assert stacks(prod) == ["pets-bootstrap", "pets-bootstrap-prod"]
    # Each account holds its own stage's roles, trusting its own provider, and nothing else's.
    for session, stage, account in ((dev, "dev", DEV_ACCOUNT), (prod, "prod", PROD_ACCOUNT)):
        names = {r["RoleName"] for r in session.client("iam").list_roles()["Roles"]}
        assert {f"pets-github-deploy-{stage}", f"pets-cfn-exec-{stage}"} <= names
        other = "prod" if stage == "dev" else "dev"
        assert not [n for n in names if n.endswith(f"-{other}")], names
        document = trust(session, f"pets-github-deploy-{stage}")
        (statement,) = document["Statement"]
        assert statement["Principal"] == {
            "Federated": f"arn:aws:iam::{account}:oidc-provider/{PROVIDER}"
        }
        assert subjects(document) == [
            f"repo:{REPO}:environment:{stage}:job_workflow_ref:"
            f"{REPO}/.github/workflows/deploy-stage.yml@refs/heads/main"
        ]
    # The read-only roles of the repository (no environment) live in dev's account only.
    assert {"pets-github-plan-dev", "pets-github-release-dev"} <= {
        r["RoleName"] for r in dev.client("iam").list_roles()["Roles"]
    }
    release = trust(dev, "pets-github-release-dev")
    assert subjects(release) == [
        f"repo:{REPO}:ref:refs/heads/main:job_workflow_ref:"
        f"{REPO}/.github/workflows/host-release-read.yml@refs/heads/main"
    ]
    buckets = {b["Name"] for b in dev.client("s3").list_buckets()["Buckets"]}
    assert buckets == {
        f"pets-artifacts-dev-{DEV_ACCOUNT}-{REGION}",
        f"pets-logs-dev-{DEV_ACCOUNT}-{REGION}",
    }
    # GitHub points each environment at its own account.
    variables = gh.state()["variables"]
    assert variables["dev"] == {
        "AWS_DEPLOY_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-deploy-dev"
    }
    assert variables["prod"] == {
        "AWS_DEPLOY_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-deploy-prod"
    }
    # Jobs with no environment (preview, drift, patch on main) see only repository variables:
    # each stage's roles there point at the stage's own account.
    assert variables["repository"] == {
        "AWS_REGION": REGION,
        "AWS_RELEASE_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-release-dev",
        "AWS_PLAN_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-plan-dev",
        "AWS_DEV_PREVIEW_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-preview-dev",
        "AWS_DEV_DRIFT_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-drift-dev",
        "AWS_DEV_PATCH_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/pets-github-patch-dev",
        "AWS_DEV_REGION": REGION,
        "AWS_PROD_PREVIEW_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-preview-prod",
        "AWS_PROD_DRIFT_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-drift-prod",
        "AWS_PROD_PATCH_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-patch-prod",
        "AWS_PROD_REGION": REGION,
    }
    for stage in ("dev", "prod"):
        for role, workflow in (
            ("preview", "preview-stage.yml"),
            ("drift", "drift-stage.yml"),
            ("patch", "patch-stage.yml"),
        ):
            assert subjects(trust(accounts[f"pets-{stage}"], f"pets-github-{role}-{stage}")) == [
                f"repo:{REPO}:ref:refs/heads/main:job_workflow_ref:"
                f"{REPO}/.github/workflows/{workflow}@refs/heads/main"
            ]
    assert gh.state()["oidc"] == {
        "use_default": False,
        "include_claim_keys": ["repo", "context", "job_workflow_ref"],
    }
    # The host-release workflow's proposing job may open a pull request; the token stays
    # read-only unless a workflow asks for more.
    assert gh.state()["workflow_permissions"] == {
        "default_workflow_permissions": "read",
        "can_approve_pull_request_reviews": True,
    }
    # The repository variable that turns the AWS jobs on comes last.
    assert gh.writes()[-1]["args"][:3] == ["variable", "set", "AWS_PLAN_ROLE_ARN"]


# ---------------------------------------------------------------------------- topology (b)
def test_one_shared_account_gets_one_account_stack_and_a_stack_per_stage(aws, gh):
    _provider(boto3.session.Session(region_name=REGION))
    ctx = context(gh)
    assert bootstrap(ctx, "--reviewer", "alice") == 0, ctx.err.getvalue()
    session = boto3.session.Session(region_name=REGION)
    assert stacks(session) == ["pets-bootstrap", "pets-bootstrap-dev", "pets-bootstrap-prod"]
    assert "dev, prod share account" in ctx.out.getvalue()
    roles = {r["RoleName"] for r in session.client("iam").list_roles()["Roles"]}
    for stage in ("dev", "prod"):
        assert {f"pets-github-deploy-{stage}", f"pets-cfn-exec-{stage}"} <= roles
    # Only the previewed stage has a plan role, only the release-reading stage a release role.
    assert "pets-github-plan-prod" not in roles and "pets-github-release-prod" not in roles
    policies = {
        p["PolicyName"] for p in session.client("iam").list_policies(Scope="Local")["Policies"]
    }
    assert {"pets-boundary-dev", "pets-boundary-prod"} <= policies


def test_the_account_stack_reuses_what_the_account_has(aws, gh):
    session = boto3.session.Session(region_name=REGION)
    _provider(session)
    ctx = context(gh)
    assert bootstrap(ctx, "--reviewer", "alice", "--dry-run") == 0
    provider = f"arn:aws:iam::123456789012:oidc-provider/{PROVIDER}"
    assert f"reuse the GitHub OIDC provider {provider}" in ctx.out.getvalue()
    assert "set API Gateway's logging role" in ctx.out.getvalue()
    assert bootstrap(ctx, "--reviewer", "alice") == 0
    parameters = session.client("cloudformation").describe_stacks(StackName="pets-bootstrap")
    values = {p["ParameterKey"]: p["ParameterValue"] for p in parameters["Stacks"][0]["Parameters"]}
    assert values == {"ExistingOidcProviderArn": provider, "ConfigureApiGatewayLogging": "true"}


def test_an_account_that_has_everything_gets_no_account_stack(aws, gh):
    session = boto3.session.Session(region_name=REGION)
    _provider(session)
    role = session.client("iam").create_role(RoleName="apigw-logs", AssumeRolePolicyDocument="{}")
    session.client("apigateway", region_name=REGION).update_account(
        patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}
        ]
    )
    ctx = context(gh)
    assert bootstrap(ctx, "--reviewer", "alice") == 0
    assert "nothing to create: no account stack" in ctx.out.getvalue()
    assert stacks(session) == ["pets-bootstrap-dev", "pets-bootstrap-prod"]


# ---------------------------------------------------------------------------- GitHub
def test_github_environments_allow_main_only_and_prod_needs_a_reviewer(aws, gh):
    _provider(boto3.session.Session(region_name=REGION))
    state = gh.state()
    # Someone allowed every branch to deploy to dev: that rule goes, main stays the only one.
    state["environments"]["dev"] = {"policies": [{"id": 7, "name": "*", "type": "branch"}]}
    gh.write_state(state)
    ctx = context(gh)
    assert bootstrap(ctx) == 1  # prod has no reviewer yet and none was given
    assert "prod is protected and has no reviewer: pass --reviewer" in ctx.err.getvalue()
    assert bootstrap(context(gh), "--reviewer", "alice", "--reviewer", "acme/release") == 0
    environments = gh.state()["environments"]
    for stage in ("dev", "prod"):
        assert environments[stage]["deployment_branch_policy"] == {
            "protected_branches": False,
            "custom_branch_policies": True,
        }
        assert [(p["name"], p["type"]) for p in environments[stage]["policies"]] == [
            ("main", "branch")
        ]
    assert environments["prod"]["reviewers"] == [
        {"type": "User", "id": 1001},
        {"type": "Team", "id": 2002},
    ]
    assert "reviewers" not in environments["dev"]
    # Run again without --reviewer: prod keeps the reviewers it has.
    assert bootstrap(context(gh)) == 0
    assert gh.state()["environments"]["prod"]["reviewers"] == environments["prod"]["reviewers"]


def test_running_again_changes_nothing(accounts, gh):
    args = ("--stage", "dev=pets-dev", "--stage", "prod=pets-prod", "--reviewer", "alice")
    assert bootstrap(context(gh, accounts), *args) == 0
    state = gh.state()
    gh.log_file.write_text("")
    again = context(gh, accounts)
    assert bootstrap(again, *args) == 0, again.err.getvalue()
    out = again.out.getvalue()
    for name in ("pets-bootstrap-dev", "pets-bootstrap-prod"):
        assert f"no changes: {name} already matches the template and parameters" in out
    assert gh.state() == state
    posted = [c for c in gh.writes() if "POST" in c["args"] or "DELETE" in c["args"]]
    assert posted == []  # main is already the one branch rule


def test_dry_run_changes_nothing_and_shows_every_step(accounts, gh):
    ctx = context(gh, accounts)
    args = ("--stage", "dev=pets-dev", "--stage", "prod=pets-prod", "--reviewer", "alice")
    assert bootstrap(ctx, *args, "--dry-run") == 0, ctx.err.getvalue()
    assert stacks(accounts["pets-dev"]) == [] and stacks(accounts["pets-prod"]) == []
    assert gh.writes() == []
    out = ctx.out.getvalue()
    assert f"account {DEV_ACCOUNT}: pets-bootstrap-dev: create (Stage=dev, " in out
    assert f"account {PROD_ACCOUNT}: pets-bootstrap-prod: create (Stage=prod, " in out
    # The ARNs the stacks will output are known before they exist: the role names are fixed.
    assert (
        f"gh variable set AWS_DEPLOY_ROLE_ARN --env prod --body "
        f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-deploy-prod --repo {REPO}"
    ) in out
    assert (
        f"gh variable set AWS_PROD_PATCH_ROLE_ARN --body "
        f"arn:aws:iam::{PROD_ACCOUNT}:role/pets-github-patch-prod --repo {REPO}"
    ) in out
    assert f"gh variable set AWS_PROD_REGION --body {REGION} --repo {REPO}" in out
    assert "gh api --method PUT repos/acme/pets/actions/oidc/customization/sub --input -" in out
    assert "gh api --method PUT repos/acme/pets/actions/permissions/workflow --input -" in out
    assert '"can_approve_pull_request_reviews": true' in out
    assert '"id": $(gh api users/alice --jq .id)' in out
    assert "dry run, nothing was changed" in out


def test_without_gh_aws_is_done_and_the_github_commands_are_printed(aws, gh):
    _provider(boto3.session.Session(region_name=REGION))
    state = gh.state()
    state["logged_in"] = False
    gh.write_state(state)
    ctx = context(gh)
    assert bootstrap(ctx, "--reviewer", "alice") == 0
    out = ctx.out.getvalue()
    assert "gh is not installed or not logged in; configure GitHub with:" in out
    plan_role = "arn:aws:iam::123456789012:role/pets-github-plan-dev"
    assert f"gh variable set AWS_PLAN_ROLE_ARN --body {plan_role}" in out
    release_role = "arn:aws:iam::123456789012:role/pets-github-release-dev"
    assert f"gh variable set AWS_RELEASE_ROLE_ARN --body {release_role}" in out
    assert gh.writes() == []
    assert stacks(boto3.session.Session(region_name=REGION))[-1] == "pets-bootstrap-prod"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--repo", "not a repo"], "--repo 'not a repo' is not OWNER/REPO"),
        (["--repo", REPO, "--stage", "qa"], "unknown stage 'qa'"),
        (["--repo", REPO, "--stage", "dev", "--stage", "dev"], "--stage dev is given twice"),
        (["--repo", REPO, "--stage", "prod"], "the plan role lives in dev's bootstrap"),
    ],
)
def test_bad_arguments_fail_in_one_line(aws, gh, args, error):
    ctx = context(gh)
    assert main(["bootstrap", *args], ctx) == 1
    (line,) = ctx.err.getvalue().splitlines()
    assert line.startswith("bootstrap: ") and error in line
