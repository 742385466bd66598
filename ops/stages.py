"""The stacks of a stage, in one place: names, templates, parameters, capabilities, tags.

``plan``, ``deploy-api``, ``destroy`` and ``drift`` read this list, so a new stack or parameter is
added once. The stacks are listed in deploy order (infra before the API that imports its
outputs); ``destroy`` walks them backwards.

Parameters given here are sent only to a template that declares them (the AWS CLI's merge rule,
``ops.templates.merge_parameters``); every other parameter keeps its Default on a new stack and
its previous value on an existing one.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
PROTECTED_STAGES = ("prod",)  # destroy refuses these without --force
BOOTSTRAP_STACK = "pets-bootstrap"
IAM = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")


@dataclass(frozen=True)
class StageStack:
    part: str  # "infra" or "api"
    name: str
    template: Path
    parameters: dict = field(default_factory=dict)
    capabilities: tuple = IAM
    tags: dict = field(default_factory=dict)
    packaged: bool = False  # the template's code must be uploaded first (ops.artifacts)


def check_stage(stage):
    if stage not in STAGES:
        raise OpsError(f"unknown stage {stage!r}: the stages are {', '.join(STAGES)}")
    return stage


def stack_name(stage, part):
    return f"pets-{check_stage(stage)}-{part}"


def stacks(stage, root=ROOT):
    """The stage's stacks in deploy order."""
    check_stage(stage)
    root = Path(root)
    tags = {"project": "pets", "stage": stage}
    return [
        StageStack(
            part="infra",
            name=stack_name(stage, "infra"),
            template=root / "cloudformation" / "infra.yaml",
            parameters={"Stage": stage},
            tags=tags,
        ),
        StageStack(
            part="api",
            name=stack_name(stage, "api"),
            template=root / "build" / "api" / "sam.yaml",
            parameters={"Stage": stage},
            capabilities=(*IAM, "CAPABILITY_AUTO_EXPAND"),  # the SAM transform is a macro
            tags=tags,
            packaged=True,
        ),
    ]


def stack(stage, part, root=ROOT):
    return next(s for s in stacks(stage, root) if s.part == part)
