"""One stack, deployed: plan a change set (``ops.cfn.changeset``), show it, execute it
(``ops.cfn.execute``), with the two cases ``aws cloudformation deploy`` leaves to the user.

A stack stuck in ROLLBACK_COMPLETE (its creation failed) is deleted and created again, saying
why; "no changes", in either of CloudFormation's forms, is success and prints the outputs.
"""

from ops import report
from ops.cfn import changeset, order
from ops.cfn.execute import (
    POLL_SECONDS,
    delete_stack,
    earlier_root_cause,
    execute_change_set,
    print_outputs,
)
from ops.cfn.stacks import current_stack, outputs_of


def deploy(ctx, spec, execute=True, poll=POLL_SECONDS):
    """Deploy ``spec``; return the stack's outputs (None when only previewed)."""
    text, template = spec.read_template()
    cf = ctx.client("cloudformation")
    stack = current_stack(cf, spec.name)
    order.check(ctx, stack, spec.commit, spec.rollback)
    if changeset.classify(stack) == "recreate":
        if not execute:
            ctx.say(
                f"{spec.name} is in ROLLBACK_COMPLETE (its creation failed); a deploy would "
                "delete it and create it again. Nothing was changed."
            )
            return None
        cause = earlier_root_cause(cf, stack)
        ctx.say(
            f"{spec.name} is in ROLLBACK_COMPLETE: its creation failed"
            + (f" ({cause})" if cause else "")
            + " and CloudFormation cannot update it. Deleting it and creating it again."
        )
        delete_stack(ctx, stack, poll, role_arn=spec.role_arn)
        stack = None
    ctx.say(f"creating a change set for {spec.name}")
    cs = changeset.create(ctx, spec, stack, text, template)
    if cs.empty:
        ctx.say(f"no changes: {spec.name} already matches the template and parameters")
        report.append_summary(ctx, changeset.markdown(cs))
        outputs = outputs_of(current_stack(cf, spec.name))
        print_outputs(ctx, spec.name, outputs)
        return outputs
    ctx.say(f"Change set {cs.change_set_type} for {spec.name}:")
    ctx.say(changeset.text_table(cs))
    report.append_summary(ctx, changeset.markdown(cs))
    if not execute:
        ctx.say(
            f"change set left for review (not executed): {cs.arn}\n"
            f"execute it with: aws cloudformation execute-change-set --change-set-name {cs.arn}"
        )
        return None
    return execute_change_set(ctx, cs, poll)
