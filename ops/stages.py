"""The stages and stack names every ops command, template and workflow agrees on.

There are exactly two stages, ``dev`` and ``prod``; each is a GitHub Environment of the same name
and a pair of stacks, ``pets-<stage>-infra`` then ``pets-<stage>-api`` (the API stack imports
the infra stack's outputs, so it is deployed after it and deleted before it). ``pets-bootstrap``
exists once per account. The workflow tests import this module to check that the workflows name
the same stages and the same concurrency groups.
"""

from ops.errors import OpsError

STAGES = ("dev", "prod")
BOOTSTRAP_STACK = "pets-bootstrap"
# Deployment order; reverse it to delete.
STACK_PARTS = ("infra", "api")


def check_stage(stage):
    if stage not in STAGES:
        raise OpsError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    return stage


def stack_name(stage, part):
    """``pets-<stage>-<part>``, e.g. ``stack_name("dev", "infra") == "pets-dev-infra"``."""
    if part not in STACK_PARTS:
        raise OpsError(f"unknown stack part {part!r}: use one of {', '.join(STACK_PARTS)}")
    return f"pets-{check_stage(stage)}-{part}"


def stage_stacks(stage):
    """Every stack of a stage, in deployment order."""
    return [stack_name(stage, part) for part in STACK_PARTS]


def concurrency_group(stage):
    """The GitHub Actions concurrency group that deploy, patch and drift of a stage share."""
    return f"pets-{check_stage(stage)}"
