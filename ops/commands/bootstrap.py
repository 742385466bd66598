"""``python -m ops bootstrap``: from administrator credentials to a repository ready to deploy.

AWS first (``ops.cfn.bootstrap``): per account, the account stack where the account lacks what
it holds; per stage, ``pets-bootstrap-<stage>`` with live progress. Then GitHub (``ops.github``):
the OIDC subject template, an environment per stage (main only; reviewers for prod), the
workflow permissions (Actions may open the host-release pull request) and the variables, through
``gh`` when it is logged in, else printed as commands. ``--dry-run`` prints
all of it and changes nothing. Every step converges, so running it again is safe.
"""

import re

from ops import github, stages
from ops.cfn import bootstrap
from ops.cfn.deploy import deploy
from ops.cfn.stacks import current_stack
from ops.errors import OpsError

REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}")


def add_arguments(parser):
    parser.description = (
        "Create or update the AWS side of each stage (its roles, permissions boundary and "
        "buckets, and once per account the GitHub OIDC provider) and configure the GitHub "
        "repository to match: OIDC subject, environments with main-only deployments and "
        "prod's reviewers, and the variables the workflows read. Safe to run again."
    )
    parser.add_argument(
        "--repo",
        required=True,
        metavar="OWNER/REPO",
        help="the GitHub repository whose workflows deploy (as in its URL)",
    )
    parser.add_argument(
        "--stage",
        action="append",
        metavar="STAGE[=PROFILE]",
        help=(
            "a stage to bootstrap, with the AWS profile of its own account (recommended: one "
            "account per stage); repeat per stage (default: every stage, current credentials)"
        ),
    )
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="LOGIN|ORG/TEAM",
        help="who approves deploys of a protected stage (prod); repeat for more (up to six)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print every stack and GitHub change, change nothing",
    )


def run(args, ctx):
    if not REPO.fullmatch(args.repo):
        raise OpsError(f"--repo {args.repo!r} is not OWNER/REPO")
    owner, name = args.repo.split("/")
    reviewers = [github.parse_reviewer(r) for r in args.reviewer]
    targets = bootstrap.locate(ctx, _requested(args.stage))
    accounts = bootstrap.plan_accounts(targets)
    _say_plan(ctx, args.repo, targets, accounts)
    gh = github.Gh(ctx)
    ready = gh.ready()
    if args.dry_run or not ready:
        _require_reviewers(targets, reviewers)
    if args.dry_run:
        _say_commands(ctx, args.repo, targets, reviewers, _role_arns(targets))
        ctx.say("bootstrap: dry run, nothing was changed")
        return 0

    for plan in accounts:
        if plan.spec is not None:
            deploy(plan.ctx, plan.spec)
    for target in targets:
        deploy(target.ctx, bootstrap.stage_spec(target.stage, owner, name))
    arns, plan_role, release_role = _role_arns(targets)

    environments = _environments(targets, arns)
    region = targets[0].region
    if ready:
        github.configure(
            ctx, gh, args.repo, environments, region, plan_role, reviewers, release_role
        )
        ctx.say("bootstrap: done; push to main to deploy (docs/deploy.md)")
        return 0
    ctx.say("bootstrap: AWS is ready. gh is not installed or not logged in; configure GitHub with:")
    for line in github.commands(
        args.repo, environments, region, plan_role, reviewers, release_role
    ):
        ctx.say(line)
    return 0


def _requested(values):
    """``[(stage, profile or None)]`` from ``--stage`` values, every stage when none."""
    if not values:
        return [(name, None) for name in stages.NAMES]
    found = []
    for value in values:
        stage, _, profile = value.partition("=")
        stage = stages.get(stage).name
        if stage in [s for s, _ in found]:
            raise OpsError(f"--stage {stage} is given twice")
        found.append((stage, profile or None))
    given = {s for s, _ in found}
    for role, needed in (
        ("plan role", [s.name for s in stages.STAGES if s.previews_pull_requests]),
        ("release role", [s.name for s in stages.STAGES if s.reads_host_releases]),
    ):
        if not set(needed) <= given:
            raise OpsError(
                f"the {role} lives in {needed[0]}'s bootstrap: bootstrap {needed[0]} too"
            )
    return found


def _require_reviewers(targets, reviewers):
    for target in targets:
        if stages.get(target.stage).protected and not reviewers:
            raise OpsError(
                f"{target.stage} is protected: pass --reviewer LOGIN (or ORG/TEAM), the people "
                "who approve its deploys (GitHub needs them in the commands printed)"
            )


def _role_arns(targets):
    """The GitHub roles' ARNs: the stage template fixes their names, so a dry run knows them."""
    arns = {t.stage: bootstrap.role_arn(t, f"pets-github-deploy-{t.stage}") for t in targets}
    previewing = next(t for t in targets if stages.get(t.stage).previews_pull_requests)
    reading = next(t for t in targets if stages.get(t.stage).reads_host_releases)
    return (
        arns,
        bootstrap.role_arn(previewing, f"pets-github-plan-{previewing.stage}"),
        bootstrap.role_arn(reading, f"pets-github-release-{reading.stage}"),
    )


def _environments(targets, arns):
    return [
        github.Environment(
            t.stage,
            arns[t.stage],
            stages.get(t.stage).protected,
            region=t.region,
            roles={
                role: bootstrap.role_arn(t, f"pets-github-{role.lower()}-{t.stage}")
                for role in github.STAGE_ROLES
            },
        )
        for t in targets
    ]


def _say_plan(ctx, repo, targets, accounts):
    where = ", ".join(
        f"{t.stage} in account {t.account}" + (f" (profile {t.profile})" if t.profile else "")
        for t in targets
    )
    ctx.say(f"bootstrap: {repo} in {targets[0].region}: {where}")
    shared = [plan for plan in accounts if len(plan.stages) > 1]
    for plan in shared:
        ctx.say(
            f"bootstrap: {', '.join(plan.stages)} share account {plan.account}: isolation rests "
            "on IAM alone (one account per stage is safer, docs/deploy.md)"
        )
    for plan in accounts:
        action = "none" if plan.spec is None else ("update" if plan.exists else "create")
        ctx.say(
            f"  account {plan.account}: {stages.ACCOUNT_STACK}: {action} ({'; '.join(plan.notes)})"
        )
        for stage in plan.stages:
            spec = bootstrap.stage_spec(stage, *repo.split("/"))
            parameters = ", ".join(f"{k}={v}" for k, v in spec.parameters.items())
            action = (
                "update"
                if current_stack(plan.ctx.client("cloudformation"), spec.name)
                else "create"
            )
            ctx.say(f"  account {plan.account}: {spec.name}: {action} ({parameters})")


def _say_commands(ctx, repo, targets, reviewers, predicted):
    arns, plan_role, release_role = predicted
    ctx.say("then, in GitHub:")
    for line in github.commands(
        repo, _environments(targets, arns), targets[0].region, plan_role, reviewers, release_role
    ):
        ctx.say(line)
