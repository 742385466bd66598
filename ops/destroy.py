"""``python -m ops destroy --stage S``: delete the stage's stacks, API first, then infra.

The order is the reverse of ``ops.stages`` (the API imports infra's outputs, so infra cannot go
first). The Aurora cluster carries ``DeletionPolicy: Snapshot`` in the infra template, so
CloudFormation takes a final snapshot before deleting it: the data can be restored later.
A stage in ``PROTECTED_STAGES`` (prod) is refused unless ``--force`` is given. A stack that is
already gone is skipped, so a destroy that was interrupted can simply be run again.
"""

from ops import changeset, stackops, stages
from ops.errors import OpsError


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "destroy",
        help="delete the stage's API and infra stacks (the database keeps a final snapshot)",
        description=(
            "Delete pets-<stage>-api, then pets-<stage>-infra, following their events. The "
            "Aurora cluster leaves a final snapshot (DeletionPolicy: Snapshot). Refuses prod "
            "unless --force."
        ),
    )
    parser.add_argument("--stage", required=True, choices=stages.STAGES)
    parser.add_argument(
        "--force", action="store_true", help="required to destroy a protected stage (prod)"
    )
    parser.set_defaults(command=run)


def run(args, ctx):
    destroy(ctx, args.stage, force=args.force)
    return 0


def destroy(ctx, stage, force=False, poll=stackops.POLL_SECONDS):
    if stage in stages.PROTECTED_STAGES and not force:
        raise OpsError(
            f"destroy: refusing to destroy {stage} without --force "
            "(its database keeps a final snapshot, but the stage goes offline)"
        )
    cf = ctx.client("cloudformation")
    deleted = []
    for target in reversed(stages.stacks(stage)):
        stack = changeset.current_stack(cf, target.name)
        if stack is None:
            ctx.say(f"destroy: {target.name} does not exist; nothing to delete")
            continue
        ctx.say(f"destroy: deleting {target.name} ({stack['StackStatus']})")
        stackops.delete_stack(ctx, stack, poll)
        deleted.append(target.name)
    if deleted:
        ctx.say(
            f"destroy: deleted {', '.join(deleted)}. The database's final snapshot is kept: "
            "aws rds describe-db-cluster-snapshots --snapshot-type manual"
        )
    else:
        ctx.say(f"destroy: stage {stage} had no stacks")
    return deleted
