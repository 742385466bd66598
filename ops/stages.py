"""The stages, defined once, and where each stage's stacks and roles are found.

A stage is data: its name, whether it is protected (deletion protection on its database,
and ``destroy`` refuses it without ``--force``), whether pull requests preview it, how a new API
version takes traffic (all at once, or a canary) and how long an infra update is watched for
alarms. Everything else follows from the name by convention: its stacks ``pets-<stage>-infra``
and ``pets-<stage>-api`` (in deploy order; ``destroy`` walks them backwards), the tag
``stage=<stage>`` on both, and its bootstrap stack ``pets-bootstrap-<stage>``, whose outputs name
the stage's artifacts bucket and the execution role CloudFormation acts through. The bootstrap
stack is deliberately outside ``pets-<stage>-*``, the stacks the stage's deploy role may change.
The templates take any stage name of the right shape, so adding a stage is one entry in
``STAGES`` and ``python -m ops bootstrap`` (CONTRIBUTING.md).

Two of the infra stack's parameters are code too: ``HOST_OS_RELEASE``, the Amazon Linux 2023
release every stage's host installs packages from (a scheduled workflow proposes a newer one in a
pull request: ``ops.commands.host_release``), and the content-addressed key of the migration
runner's requirements, which ``deploy-infra`` uploads for the host to build its venv from.

Parameters given here are sent only to a template that declares them (the AWS CLI's merge rule,
``ops.cfn.templates.merge_parameters``); every other parameter keeps its Default on a new stack
and its previous value on an existing one.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ops.cfn.stacks import current_stack, outputs_of
from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
# Once per account (the GitHub OIDC provider, API Gateway's logging role); each stage has its own
# pets-bootstrap-<stage> (cloudformation/bootstrap-stage.yaml).
ACCOUNT_STACK = "pets-bootstrap"
IAM = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")
# dnf's releasever on every host (docs/patching.md); the host-release workflow rewrites this line.
HOST_OS_RELEASE = "2023.9.20251117"
HOST_REQUIREMENTS = "requirements-migrate.txt"  # what the host's migration venv holds


@dataclass(frozen=True)
class Stage:
    name: str
    # Its database refuses deletion, and destroy refuses the stage without --force.
    protected: bool = False
    # Pull requests preview this stage's change sets (its bootstrap creates the plan role).
    previews_pull_requests: bool = False
    # The host-release workflow reads AWS's newest Amazon Linux release with this stage's
    # read-only release role (its bootstrap creates it); one stage is enough.
    reads_host_releases: bool = False
    # Concurrent executions deploy-api reserves for the API when the account has room
    # (ops.cfn.capacity decides; it reserves none otherwise).
    reserved_concurrency: int = 10
    # Template parameters this stage sets beyond the ones every stage gets, e.g. readers or the
    # proxy: {"DbReaderCount": "1", "EnableDbProxy": "true"} (docs/scaling.md). Kept in git, so a
    # change of capacity is reviewed and deployed like any other change.
    infra: dict = field(default_factory=dict)
    api: dict = field(default_factory=dict)
    # How CodeDeploy moves the API alias to a new version (SAM DeploymentPreference Type),
    # rolling back when the 5xx or Lambda-error alarm goes off meanwhile (docs/deploy.md).
    traffic_shift: str = "AllAtOnce"
    # Minutes CloudFormation keeps watching the same alarms after an infra update before it
    # calls the update done (RollbackConfiguration.MonitoringTimeInMinutes, 0-180).
    monitoring_minutes: int = 5


# prod's canary lasts 15 minutes because the 5xx alarm needs two breaching 5-minute periods
# (of three) before it goes off: a shorter canary would end before the alarm could stop it.
STAGES = (
    Stage("dev", previews_pull_requests=True, reads_host_releases=True),
    Stage(
        "prod",
        protected=True,
        traffic_shift="Canary10Percent15Minutes",
        monitoring_minutes=15,
    ),
)
NAMES = tuple(s.name for s in STAGES)


@dataclass(frozen=True)
class StageStack:
    part: str  # "infra" or "api"; "bootstrap" or "account" for the bootstrap stacks
    name: str
    template: Path
    parameters: dict = field(default_factory=dict)
    capabilities: tuple = IAM
    tags: dict = field(default_factory=dict)
    packaged: bool = False  # the template's code must be uploaded first (ops.cfn.artifacts)


def add_stage_argument(parser, required=True, help=None):
    """``--stage``, the same in every command: one of ``NAMES``, with the same error for others."""
    parser.add_argument(
        "--stage",
        required=required,
        choices=NAMES,
        help=help or f"the stage to act on ({', '.join(NAMES)}; ops/stages.py)",
    )


def add_bucket_argument(parser, reader=None):
    """``--bucket``; ``reader``, if any, says what reads from the stage's exported bucket."""
    default = "the stage's pets-bootstrap-<stage> ArtifactsBucket"
    if reader:
        default += f"; {reader} from that exported bucket, so override only with it"
    parser.add_argument("--bucket", help=f"artifacts bucket (default: {default})")


def get(name):
    """The ``Stage`` called ``name`` (or ``name`` itself, a ``Stage``); a one-line error naming
    the stages otherwise."""
    if isinstance(name, Stage):
        return name
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise OpsError(f"unknown stage {name!r}: the stages are {', '.join(NAMES)}")


def stack_name(stage, part):
    return f"pets-{get(stage).name}-{part}"


def stacks(stage, root=ROOT):
    """The stage's stacks in deploy order."""
    stage = get(stage)
    name = stage.name
    root = Path(root)
    tags = {"project": "pets", "stage": name}
    return [
        StageStack(
            part="infra",
            name=stack_name(name, "infra"),
            template=root / "cloudformation" / "infra.yaml",
            parameters={
                **stage.infra,
                "Stage": name,
                "DbDeletionProtection": "true" if stage.protected else "false",
                "HostOsRelease": HOST_OS_RELEASE,
                "HostRequirementsKey": host_requirements()[0],
            },
            tags=tags,
        ),
        StageStack(
            part="api",
            name=stack_name(name, "api"),
            template=root / "build" / "api" / "sam.yaml",
            parameters={**stage.api, "Stage": name, "DeploymentType": stage.traffic_shift},
            capabilities=(*IAM, "CAPABILITY_AUTO_EXPAND"),  # the SAM transform is a macro
            tags=tags,
            packaged=True,
        ),
    ]


def host_requirements(root=ROOT):
    """``(key, bytes)``: the host's requirements and where they live in the artifacts bucket.

    Named by their SHA-256, under ``migrations/`` of the stage's own bucket, which only that
    stage's deploy role writes and only that stage's host reads.
    """
    data = (Path(root) / HOST_REQUIREMENTS).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return f"migrations/requirements-{digest}.txt", data


def stack(stage, part, root=ROOT):
    return next(s for s in stacks(stage, root) if s.part == part)


def bootstrap_stack_name(stage):
    return f"pets-bootstrap-{get(stage).name}"


def bootstrap_stack(stage, owner, repo, root=ROOT):
    """The stage's bootstrap stack for the GitHub repository ``owner/repo``."""
    stage = get(stage)
    return StageStack(
        part="bootstrap",
        name=bootstrap_stack_name(stage.name),
        template=Path(root) / "cloudformation" / "bootstrap-stage.yaml",
        parameters={
            "Stage": stage.name,
            "GitHubOrg": owner,
            "GitHubRepo": repo,
            "PreviewPullRequests": "true" if stage.previews_pull_requests else "false",
            "ReadHostReleases": "true" if stage.reads_host_releases else "false",
        },
        capabilities=("CAPABILITY_NAMED_IAM",),
        tags={"project": "pets", "stage": stage.name},
    )


def account_stack(parameters, root=ROOT):
    """The account's bootstrap stack (``parameters``: what the account already has)."""
    return StageStack(
        part="account",
        name=ACCOUNT_STACK,
        template=Path(root) / "cloudformation" / "bootstrap-account.yaml",
        parameters=dict(parameters),
        capabilities=("CAPABILITY_IAM",),
        tags={"project": "pets"},
    )


def bootstrap_outputs(ctx, stage):
    """The stage's bootstrap outputs, ``{}`` when it has none (an administrator's account)."""
    return outputs_of(current_stack(ctx.client("cloudformation"), bootstrap_stack_name(stage)))


def execution_role_arn(ctx, stage):
    """The role CloudFormation acts through for a stage (bootstrap output ExecutionRoleArn).

    The GitHub deploy roles may only run change sets and pass this role, so every create, update
    and delete of a ``pets-<stage>-*`` stack names it. ``None`` when the stage has no bootstrap
    stack (an administrator deploying by hand): CloudFormation then uses the caller's permissions.
    """
    return bootstrap_outputs(ctx, stage).get("ExecutionRoleArn")


def artifacts_bucket(ctx, stage, bucket=None):
    """The ``bucket`` given, else the stage's own bucket (its bootstrap output ArtifactsBucket).

    Each stage has its own bucket, so what its hosts and functions read (CA bundles, migration
    bundles, packaged code) only its own pipeline can write.
    """
    if bucket:
        return bucket
    name = bootstrap_stack_name(stage)
    stack = current_stack(ctx.client("cloudformation"), name)
    outputs = outputs_of(stack)
    if "ArtifactsBucket" not in outputs:
        where = "has no ArtifactsBucket output" if stack else "does not exist"
        raise OpsError(
            f"the {name} stack {where}: bootstrap the stage first "
            "(python -m ops bootstrap, docs/deploy.md) or pass --bucket"
        )
    return outputs["ArtifactsBucket"]
