"""``python -m ops preview --stage S`` (what ``make preview`` runs): the stage's change sets,
made as a deploy makes them and kept, so the deploy executes exactly what was reviewed.

The report (markdown: each stack's changes, replacements and widened permissions first) goes to
stdout and the job summary; the file ``--out`` names each change set's ARN and the stack state it
was made against, for ``deploy-infra --from`` and ``deploy-api --from``. The machinery and the
refusals are in ``ops.cfn.preview``.
"""

import dataclasses
from pathlib import Path

from ops import git, report, stages
from ops.cfn import order, preview, specs


def add_arguments(parser):
    parser.description = (
        "Create the change set of every stack of the stage as a deploy would, uploading "
        "nothing but templates under plan/ (the change sets name this build's artifacts, which "
        "the deploy uploads), keep them, print them with their replacements and widened "
        "permissions, and write their ARNs to --out for deploy-infra --from and deploy-api "
        "--from."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the preview (default: build/preview-<stage>.json)",
    )
    stages.add_bucket_argument(parser, "the templates read")
    specs.add_api_package_arguments(parser)
    parser.add_argument("--rollback", action="store_true", help=order.ROLLBACK_HELP)


def run(args, ctx):
    out = args.out or stages.ROOT / "build" / f"preview-{args.stage}.json"
    quiet = dataclasses.replace(ctx, out=ctx.err)  # progress to stderr, the report to stdout
    record, text = preview.preview(
        quiet,
        args.stage,
        git.head(ctx),
        specs.Sources.from_args(args),
        rollback=args.rollback,
    )
    preview.write(record, out)
    ctx.say(text)
    report.append_summary(ctx, text)
    ctx.warn(f"preview: change sets kept; their ARNs are in {out}")
    return 0
