"""Read the outputs of the project's stacks (names fixed in the team brief).

Commands that act on a stage find everything (host, database endpoint, bucket) from the stack
outputs, never from configuration of their own, so what they touch is what was deployed.
"""

from botocore.exceptions import ClientError

from ops.errors import OpsError

STAGES = ("dev", "prod")
BOOTSTRAP_STACK = "pets-bootstrap"


def infra_stack(stage):
    return f"pets-{stage}-infra"


def stack_outputs(ctx, stack_name):
    """``{OutputKey: OutputValue}`` of ``stack_name``; a one-line error when it does not exist."""
    try:
        stacks = ctx.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise OpsError(f"stack {stack_name} does not exist: deploy it first") from exc
        raise OpsError(f"cannot read stack {stack_name}: {message or exc}") from exc
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def require(outputs, stack_name, *names):
    """The values of ``names`` from ``outputs``, failing with the missing names listed."""
    missing = [n for n in names if not outputs.get(n)]
    if missing:
        raise OpsError(f"stack {stack_name} has no output {', '.join(missing)}")
    return [outputs[n] for n in names]
