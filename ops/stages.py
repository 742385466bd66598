"""The stages, defined once, and where each stage's stacks and roles are found.

A stage is data: its name, whether it is protected (deletion protection on its database, and
``destroy`` refuses it without ``--force``), how a new API version takes traffic (all at once, or a
canary) and how long an infra update is watched for alarms. Everything else follows from the name
by convention: its stacks ``pets-<stage>-infra`` and ``pets-<stage>-api`` (in deploy order;
``destroy`` walks them backwards), the tag ``stage=<stage>`` on both, and the execution role
CloudFormation acts through (an output of the bootstrap stack). The templates take any stage name
of the right shape, so adding a stage is one entry in ``STAGES`` and its bootstrap
(CONTRIBUTING.md).

Parameters given here are sent only to a template that declares them (the AWS CLI's merge rule,
``ops.cfn.templates.merge_parameters``); every other parameter keeps its Default on a new stack
and its previous value on an existing one.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ops.cfn.stacks import current_stack, outputs_of
from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_STACK = "pets-bootstrap"
IAM = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")


@dataclass(frozen=True)
class Stage:
    name: str
    # Its database refuses deletion, and destroy refuses the stage without --force.
    protected: bool = False
    # How CodeDeploy moves the API alias to a new version (SAM DeploymentPreference Type),
    # rolling back when the 5xx or Lambda-error alarm goes off meanwhile (docs/deploy.md).
    traffic_shift: str = "AllAtOnce"
    # Minutes CloudFormation keeps watching the same alarms after an infra update before it
    # calls the update done (RollbackConfiguration.MonitoringTimeInMinutes, 0-180).
    monitoring_minutes: int = 5


# prod's canary lasts 15 minutes because the 5xx alarm needs two breaching 5-minute periods
# (of three) before it goes off: a shorter canary would end before the alarm could stop it.
STAGES = (
    Stage("dev"),
    Stage("prod", protected=True, traffic_shift="Canary10Percent15Minutes", monitoring_minutes=15),
)
NAMES = tuple(s.name for s in STAGES)


@dataclass(frozen=True)
class StageStack:
    part: str  # "infra" or "api"
    name: str
    template: Path
    parameters: dict = field(default_factory=dict)
    capabilities: tuple = IAM
    tags: dict = field(default_factory=dict)
    packaged: bool = False  # the template's code must be uploaded first (ops.cfn.artifacts)


def get(name):
    """The ``Stage`` called ``name``; a one-line error naming the stages otherwise."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise OpsError(f"unknown stage {name!r}: the stages are {', '.join(NAMES)}")


def stack_name(stage, part):
    return f"pets-{get(stage).name}-{part}"


def stacks(stage, root=ROOT):
    """The stage's stacks in deploy order."""
    name = get(stage).name
    root = Path(root)
    tags = {"project": "pets", "stage": name}
    return [
        StageStack(
            part="infra",
            name=stack_name(name, "infra"),
            template=root / "cloudformation" / "infra.yaml",
            parameters={
                "Stage": name,
                "DbDeletionProtection": "true" if get(name).protected else "false",
            },
            tags=tags,
        ),
        StageStack(
            part="api",
            name=stack_name(name, "api"),
            template=root / "build" / "api" / "sam.yaml",
            parameters={"Stage": name, "DeploymentType": get(name).traffic_shift},
            capabilities=(*IAM, "CAPABILITY_AUTO_EXPAND"),  # the SAM transform is a macro
            tags=tags,
            packaged=True,
        ),
    ]


def stack(stage, part, root=ROOT):
    return next(s for s in stacks(stage, root) if s.part == part)


def bootstrap_outputs(ctx):
    """The bootstrap stack's outputs, ``{}`` when the account has none (an administrator's)."""
    return outputs_of(current_stack(ctx.client("cloudformation"), BOOTSTRAP_STACK))


def execution_role_arn(ctx, stage):
    """The role CloudFormation acts through for a stage (bootstrap output ExecutionRoleArn<Stage>).

    The GitHub deploy roles may only run change sets and pass this role, so every create, update
    and delete of a ``pets-<stage>-*`` stack names it. ``None`` when the account has no bootstrap
    stack (an administrator deploying by hand): CloudFormation then uses the caller's permissions.
    """
    return bootstrap_outputs(ctx).get(f"ExecutionRoleArn{get(stage).name.capitalize()}")


def artifacts_bucket(ctx, bucket=None):
    """The ``--bucket`` given, else the ArtifactsBucket output of the bootstrap stack."""
    if bucket:
        return bucket
    stack = current_stack(ctx.client("cloudformation"), BOOTSTRAP_STACK)
    outputs = outputs_of(stack)
    if "ArtifactsBucket" not in outputs:
        where = "has no ArtifactsBucket output" if stack else "does not exist"
        raise OpsError(
            f"the {BOOTSTRAP_STACK} stack {where}: bootstrap the account first "
            "(docs/deploy.md) or pass --bucket"
        )
    return outputs["ArtifactsBucket"]
