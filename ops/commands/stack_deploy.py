"""``python -m ops stack-deploy``: ``aws cloudformation deploy`` with the parts people ask for.

Same flags as the AWS CLI command. On top of it: a stack stuck in ROLLBACK_COMPLETE is deleted
and created again (saying so); the change set is printed as a table (and written to the GitHub
job summary); the execution streams only new events with a progress line; a failure names the
root cause first; "no changes" in either of CloudFormation's forms is success (exit 0); a template
over the 51,200-byte inline limit goes through ``--s3-bucket``.

The work is ``ops.cfn.deploy.deploy``, which ``deploy-infra`` and ``deploy-api`` call too.
"""

from pathlib import Path

from ops.cfn import templates
from ops.cfn.changeset import StackSpec
from ops.cfn.deploy import deploy


def add_arguments(parser):
    parser.description = (
        "Create a change set for the stack (CREATE when it is missing or in "
        "REVIEW_IN_PROGRESS; delete and re-create when ROLLBACK_COMPLETE), print it, "
        "execute it and follow its events to the end, then print the outputs. "
        "No changes is success. Exit 1 on failure, with the root cause first."
    )
    parser.add_argument("--stack-name", required=True, help="the stack to create or update")
    parser.add_argument(
        "--template-file", required=True, type=Path, metavar="FILE", help="its template (YAML/JSON)"
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="parameter values; others keep their previous value (or the Default when new)",
    )
    parser.add_argument(
        "--capabilities",
        nargs="+",
        default=[],
        metavar="CAPABILITY",
        help="e.g. CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND",
    )
    parser.add_argument(
        "--tags",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="tags for the stack (CloudFormation passes them on to its resources)",
    )
    parser.add_argument(
        "--no-execute-changeset",
        action="store_true",
        help="create and print the change set, leave it for review, do not execute it",
    )
    parser.add_argument("--role-arn", help="service role CloudFormation assumes for the stack")
    parser.add_argument(
        "--s3-bucket",
        help="bucket for templates over 51,200 bytes (the stage bootstrap stack's ArtifactsBucket)",
    )
    parser.add_argument(
        "--s3-prefix",
        default="templates",
        help="key prefix in --s3-bucket (default: templates, where a stage's deploy role may "
        "write in its bucket)",
    )


def run(args, ctx):
    spec = StackSpec(
        name=args.stack_name,
        template_path=args.template_file,
        parameters=templates.parse_pairs(args.parameter_overrides, "--parameter-overrides"),
        capabilities=tuple(args.capabilities),
        tags=templates.parse_pairs(args.tags, "--tags"),
        role_arn=args.role_arn,
        s3_bucket=args.s3_bucket,
        s3_prefix=args.s3_prefix,
    )
    deploy(ctx, spec, execute=not args.no_execute_changeset)
    return 0
