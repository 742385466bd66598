"""``python -m ops plan --stage S``: what deploying a stage would change, as one markdown report.

For every stack of the stage (``ops.stages``), in deploy order, the same change set a deploy
would make is created (``ops.changeset``), described, and deleted again; nothing is executed.
The report goes to stdout (for a pull-request comment) and to ``$GITHUB_STEP_SUMMARY``; progress
messages go to stderr so they never mix with it.

The API stack's ``CodeUri: ./deployment.zip`` is rewritten to the content-addressed S3 key
``deploy-api`` would upload to, without uploading (a change set never reads the code object), so
the plan role needs no write access and an unchanged build shows no change. A template over the
inline limit would be uploaded under ``plan/templates/`` of the stage's bucket, the one prefix the
plan role may write.

A stack that cannot be planned fails the plan (exit 1), except when CloudFormation refuses its
change set while a stack before it has changes: the API stack importing an infra output that only
the pending infra change creates cannot be planned until infra is deployed, and the report says
so instead of failing. Local problems (a missing package, an invalid template) always fail.
"""

import dataclasses
from pathlib import Path

from ops import report, stages
from ops.aws.errors import describe
from ops.cfn import artifacts, changeset
from ops.cfn.changeset import StackSpec
from ops.cfn.stacks import current_stack, deployed_template
from ops.errors import OpsError


def add_arguments(parser):
    parser.description = (
        "Create, describe and delete a change set for each stack of the stage and print "
        "one markdown report (also written to $GITHUB_STEP_SUMMARY). Nothing is deployed."
    )
    stages.add_stage_argument(parser)
    stages.add_bucket_argument(parser)
    parser.add_argument(
        "--root",
        type=Path,
        default=stages.ROOT,
        help="repository root holding cloudformation/ and build/api/ (default: this checkout)",
    )


def run(args, ctx):
    text, ok = plan(ctx, args.stage, root=args.root, bucket=args.bucket)
    ctx.say(text)
    report.append_summary(ctx, text)
    return 0 if ok else 1


def plan(ctx, stage, root=stages.ROOT, bucket=None):
    """Return ``(markdown report, ok)`` for ``stage``."""
    quiet = dataclasses.replace(ctx, out=ctx.err)  # progress to stderr, report to stdout
    cf = ctx.client("cloudformation")
    sections, ok, earlier_changes = [], True, False
    role_arn = stages.execution_role_arn(
        ctx, stage
    )  # CloudFormation acts through it, as in a deploy
    for target in stages.stacks(stage, root):
        try:
            section, changed = _plan_stack(quiet, cf, target, bucket, stage, role_arn)
        except changeset.ChangeSetFailed as exc:
            section, changed = _failed(target, str(exc), earlier_changes), False
            ok = ok and earlier_changes
        except OpsError as exc:  # a local problem (template, package, parameters): never blocked
            section, changed = _failed(target, str(exc), False), False
            ok = False
        except Exception as exc:
            message = describe(exc)
            if message is None:
                raise
            section, changed = _failed(target, message, earlier_changes), False
            ok = ok and earlier_changes
        sections.append(section)
        earlier_changes = earlier_changes or changed
    header = (
        f"## Plan for stage `{stage}`\n\n"
        "Change sets were created, described and deleted; nothing was deployed."
    )
    return "\n\n".join([header, *sections]) + "\n", ok


def _plan_stack(ctx, cf, target, bucket, stage, role_arn):
    body = None  # a stack's own template; the API's is rewritten to name its code by content
    if target.packaged:
        if not target.template.is_file():
            raise OpsError(f"no packaged API at {target.template}: run make package first")
        bucket = stages.artifacts_bucket(ctx, stage, bucket)
        body = artifacts.packaged_template(
            ctx,
            target.template,
            bucket,
            upload_artifacts=False,
            deployed=deployed_template(cf, target.name),
        )
    # The API's DbSslCaSha256 is not sent: a change set keeps the digest the last deploy recorded.
    spec = StackSpec(
        name=target.name,
        template_path=target.template,
        template_body=body,
        parameters=dict(target.parameters),
        capabilities=target.capabilities,
        tags=target.tags,
        s3_bucket=bucket,
        s3_prefix="plan/templates",
        role_arn=role_arn,
    )
    text, template = spec.read_template()
    stack = current_stack(cf, target.name)
    if changeset.classify(stack) == "recreate":
        rows = [
            ("Add", f"`{logical_id}`", resource["Type"], "-")
            for logical_id, resource in template["Resources"].items()
        ]
        note = (
            f"### `{target.name}`: delete and create again\n\nThe stack is in ROLLBACK_COMPLETE "
            "(its creation failed), so a deploy deletes it and creates it from the template:\n\n"
        )
        return note + report.markdown_table(changeset.COLUMNS, rows), True
    ctx.say(f"plan: creating a change set for {target.name}")
    cs = changeset.create(ctx, spec, stack, text, template, purpose="plan")
    try:
        if cs.empty:
            return f"### `{target.name}`: no changes", False
        verb = "create" if cs.change_set_type == "CREATE" else "update"
        title = f"`{target.name}`: {verb}, {len(cs.changes)} change(s)"
        return changeset.markdown(cs, title=title), True
    finally:
        changeset.delete(ctx, cs)


def _failed(target, message, blocked):
    if blocked:
        return (
            f"### `{target.name}`: cannot be planned yet\n\nIt depends on the changes above, "
            f"which are not deployed yet: {report.cell(message)}"
        )
    return f"### `{target.name}`: plan failed\n\n{report.cell(message)}"
