"""``python -m ops destroy --stage S``: delete the stage's stacks, API first, then infra.

The order is the reverse of ``ops.stages`` (the API imports infra's outputs, so infra cannot go
first). The Aurora cluster carries ``DeletionPolicy: Snapshot`` in the infra template, so
CloudFormation takes a final snapshot before deleting it: the data can be restored later. That
is checked, not assumed: before anything is deleted, the deployed template of every stack is read,
and a database resource whose DeletionPolicy is neither Snapshot nor Retain stops the destroy.
A protected stage (prod, ``ops.stages``) is refused unless ``--force`` is given. A stack that is
already gone is skipped, so a destroy that was interrupted can simply be run again.
"""

import json

from ops import stages
from ops.cfn import templates
from ops.cfn.execute import POLL_SECONDS, delete_stack
from ops.cfn.stacks import current_stack
from ops.errors import OpsError

DATA_TYPES = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")
KEEPS_DATA = ("Snapshot", "Retain")


def add_arguments(parser):
    parser.description = (
        "Delete pets-<stage>-api, then pets-<stage>-infra, following their events. The "
        "Aurora cluster leaves a final snapshot (DeletionPolicy: Snapshot). Refuses prod "
        "unless --force."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--force", action="store_true", help="required to destroy a protected stage (prod)"
    )


def run(args, ctx):
    destroy(ctx, args.stage, force=args.force)
    return 0


def destroy(ctx, stage, force=False, poll=POLL_SECONDS):
    if stages.get(stage).protected and not force:
        raise OpsError(
            f"destroy: refusing to destroy {stage} without --force "
            "(its database keeps a final snapshot, but the stage goes offline)"
        )
    cf = ctx.client("cloudformation")
    existing = []
    for target in reversed(stages.stacks(stage)):
        stack = current_stack(cf, target.name)
        if stack is None:
            ctx.say(f"destroy: {target.name} does not exist; nothing to delete")
        else:
            _check_data_is_kept(cf, stack)
            existing.append(stack)
    deleted, role_arn = [], stages.execution_role_arn(ctx, stage)
    for stack in existing:
        ctx.say(f"destroy: deleting {stack['StackName']} ({stack['StackStatus']})")
        delete_stack(ctx, stack, poll, role_arn=role_arn)
        deleted.append(stack["StackName"])
    if deleted:
        ctx.say(
            f"destroy: deleted {', '.join(deleted)}. The database's final snapshot is kept: "
            "aws rds describe-db-cluster-snapshots --snapshot-type manual"
        )
    else:
        ctx.say(f"destroy: stage {stage} had no stacks")
    return deleted


def _check_data_is_kept(cf, stack):
    """Refuse when the deployed template would delete a database without a snapshot."""
    if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return  # only a change set was ever made (e.g. by plan): there are no resources
    body = cf.get_template(StackName=stack["StackId"])["TemplateBody"]
    text = body if isinstance(body, str) else json.dumps(body)
    resources = templates.parse(text, stack["StackName"])["Resources"]
    for logical_id, resource in resources.items():
        policy = resource.get("DeletionPolicy", "Delete")
        if "DBClusterIdentifier" in (resource.get("Properties") or {}):
            continue  # an Aurora instance: its data is the cluster's, snapshotted there
        if resource["Type"] in DATA_TYPES and policy not in KEEPS_DATA:
            raise OpsError(
                f"destroy: {stack['StackName']} would delete {logical_id} ({resource['Type']}) "
                f"with DeletionPolicy {policy}, losing its data: deploy the template with "
                "DeletionPolicy: Snapshot first. Nothing was deleted."
            )
