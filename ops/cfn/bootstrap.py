"""The AWS half of ``ops bootstrap``: which account each stage lives in, and its stacks.

A stage's credentials (the default chain, or a named profile per stage) decide its account, so
the same run serves both topologies (docs/deploy.md): one account per stage, each with its own
account stack and stage stack, or one shared account with one account stack and a stage stack
per stage. The account stack is deployed only where the account lacks what it creates (the
GitHub OIDC provider, API Gateway's logging role), and on an account that already has the stack
its parameters keep their values, so a provider it created is never handed back as "existing".
"""

from dataclasses import dataclass, field

from ops import stages
from ops.aws import account
from ops.cfn.changeset import StackSpec
from ops.cfn.stacks import current_stack
from ops.errors import OpsError


@dataclass
class Target:
    """One stage and the account its credentials reach."""

    stage: str
    profile: str | None
    ctx: object
    account: str
    partition: str
    region: str


@dataclass
class AccountPlan:
    account: str
    ctx: object
    stages: list
    spec: StackSpec | None  # None: the account has everything the account stack would create
    notes: list = field(default_factory=list)
    exists: bool = False


def locate(ctx, requested):
    """``[Target]`` for ``[(stage, profile)]``, asking each stage's credentials who they are."""
    targets = []
    for stage, profile in requested:
        stage_ctx = ctx.for_profile(profile)
        identity = stage_ctx.client("sts").get_caller_identity()
        region = stage_ctx.client("cloudformation").meta.region_name
        if not region:
            raise OpsError("no AWS region: set AWS_REGION (or the profile's region)")
        targets.append(
            Target(
                stage=stages.get(stage).name,
                profile=profile,
                ctx=stage_ctx,
                account=identity["Account"],
                partition=identity["Arn"].split(":")[1],
                region=region,
            )
        )
    regions = {t.region for t in targets}
    if len(regions) > 1:
        raise OpsError(
            f"the stages are in different regions ({', '.join(sorted(regions))}): the workflows "
            "read one AWS_REGION; give every profile the same region (or set AWS_REGION)"
        )
    return targets


def plan_accounts(targets):
    """One ``AccountPlan`` per account, in the order the stages were given."""
    plans = {}
    for target in targets:
        if target.account in plans:
            plans[target.account].stages.append(target.stage)
            continue
        plans[target.account] = _account_plan(target)
    return list(plans.values())


def _account_plan(target):
    ctx = target.ctx
    existing = current_stack(ctx.client("cloudformation"), stages.ACCOUNT_STACK)
    plan = AccountPlan(target.account, ctx, [target.stage], None, exists=existing is not None)
    if existing is not None:  # previous values stand: whatever it created stays its own
        plan.spec = _spec(stages.account_stack({}))
        plan.notes.append("update, keeping its parameters")
        return plan
    provider = account.github_oidc_provider(ctx)
    logging_role = account.api_gateway_logging_role(ctx)
    plan.notes.append(
        f"reuse the GitHub OIDC provider {provider}"
        if provider
        else "create the GitHub OIDC provider"
    )
    plan.notes.append(
        f"keep API Gateway's logging role {logging_role}"
        if logging_role
        else "set API Gateway's logging role"
    )
    if provider and logging_role:
        plan.notes.append("nothing to create: no account stack")
        return plan
    plan.spec = _spec(
        stages.account_stack(
            {
                "ExistingOidcProviderArn": provider or "",
                "ConfigureApiGatewayLogging": "false" if logging_role else "true",
            }
        )
    )
    return plan


def stage_spec(stage, owner, repo):
    return _spec(stages.bootstrap_stack(stage, owner, repo))


def _spec(target):
    return StackSpec(
        name=target.name,
        template_path=target.template,
        parameters=target.parameters,
        capabilities=target.capabilities,
        tags=target.tags,
    )


def role_arn(target, name):
    """The ARN a role named ``name`` has in the target's account (names are fixed)."""
    return f"arn:{target.partition}:iam::{target.account}:role/{name}"
