"""Read the outputs of the project's stacks (names fixed in the team brief).

Commands that act on a stage find everything (host, database endpoint, bucket) from the stack
outputs, never from configuration of their own, so what they touch is what was deployed.
"""

from botocore.exceptions import ClientError

from ops.changeset import current_stack
from ops.errors import OpsError
from ops.stages import BOOTSTRAP_STACK, STAGES, stack_name

__all__ = ["BOOTSTRAP_STACK", "STAGES", "execution_role_arn", "infra_stack", "require",
           "stack_outputs"]  # fmt: skip


def infra_stack(stage):
    return stack_name(stage, "infra")


def outputs_of(stack):
    """``{OutputKey: OutputValue}`` of a DescribeStacks entry (``{}`` for None)."""
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs") or []}


def stack_outputs(ctx, stack_name):
    """``{OutputKey: OutputValue}`` of ``stack_name``; a one-line error when it does not exist."""
    try:
        stack = current_stack(ctx.client("cloudformation"), stack_name)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        raise OpsError(f"cannot read stack {stack_name}: {message or exc}") from exc
    if stack is None:
        raise OpsError(f"stack {stack_name} does not exist: deploy it first")
    return outputs_of(stack)


def require(outputs, stack_name, *names):
    """The values of ``names`` from ``outputs``, failing with the missing names listed."""
    missing = [n for n in names if not outputs.get(n)]
    if missing:
        raise OpsError(f"stack {stack_name} has no output {', '.join(missing)}")
    return [outputs[n] for n in names]


def execution_role_arn(ctx, stage):
    """The role CloudFormation acts through for a stage (bootstrap output ExecutionRoleArn<Stage>).

    The GitHub deploy roles may only run change sets and pass this role, so every create, update
    and delete of a ``pets-<stage>-*`` stack names it. ``None`` when the account has no bootstrap
    stack (an administrator deploying by hand): CloudFormation then uses the caller's permissions.
    """
    try:
        outputs = stack_outputs(ctx, BOOTSTRAP_STACK)
    except OpsError:
        return None
    return outputs.get(f"ExecutionRoleArn{stage.capitalize()}")
