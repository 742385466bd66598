"""The one reader of deployed stacks: does a stack exist, what are its outputs, its template.

Commands that act on a stage find everything (host, database endpoint, bucket, roles) in stack
outputs, never in configuration of their own, so what they touch is what was deployed.
"""

from botocore.exceptions import ClientError

from ops.aws.errors import error_message, is_missing_stack
from ops.cfn import templates
from ops.errors import OpsError


def current_stack(cf, name):
    """The deployed stack (a DescribeStacks entry), or None when there is none."""
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except Exception as exc:
        if is_missing_stack(exc):
            return None
        raise


def outputs_of(stack):
    """``{OutputKey: OutputValue}`` of a DescribeStacks entry (``{}`` for None)."""
    return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs") or []}


def stack_outputs(ctx, name):
    """``{OutputKey: OutputValue}`` of stack ``name``; a one-line error when it does not exist."""
    try:
        stack = current_stack(ctx.client("cloudformation"), name)
    except ClientError as exc:
        raise OpsError(f"cannot read stack {name}: {error_message(exc)}") from exc
    if stack is None:
        raise OpsError(f"stack {name} does not exist: deploy it first")
    return outputs_of(stack)


def require(outputs, stack_name, *names):
    """The values of ``names`` from ``outputs``, failing with the missing names listed."""
    missing = [n for n in names if not outputs.get(n)]
    if missing:
        raise OpsError(f"stack {stack_name} has no output {', '.join(missing)}")
    return [outputs[n] for n in names]


def deployed_template(cf, name):
    """The stack's template as it was sent (before transforms), parsed; None without a stack."""
    try:
        body = cf.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    except Exception as exc:
        if is_missing_stack(exc):
            return None
        raise
    return body if isinstance(body, dict) else templates.parse(body, name)
