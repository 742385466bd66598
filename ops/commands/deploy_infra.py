"""``python -m ops deploy-infra --stage S`` (what ``make deploy-infra`` runs): ``pets-S-infra``.

The stage's infrastructure stack as ``ops.cfn.specs.infra`` builds it (the same spec ``preview``
makes): the migration runner's requirements uploaded first to the key the ``HostRequirementsKey``
parameter names (the host's cfn-init builds its venv from them: docs/migrations.md), the commit
(``SourceCommit``: a commit that does not descend from the deployed one is refused unless
``--rollback``), rollback triggers on the API's alarms, deployed through a change set by the
same code as ``stack-deploy``, acting through the stage's CloudFormation execution role when the
stage has a bootstrap stack. With ``--from`` it executes the change set ``preview`` kept instead.
"""

from ops import git, stages
from ops.cfn import order, preview, specs
from ops.cfn.deploy import deploy


def add_arguments(parser):
    parser.description = (
        "Deploy the stage's infrastructure stack (cloudformation/infra.yaml) through a "
        "change set, following its events, through the stage's execution role."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--no-execute-changeset", action="store_true", help="create and print the change set only"
    )
    stages.add_bucket_argument(parser, "the host reads its requirements")
    parser.add_argument("--rollback", action="store_true", help=order.ROLLBACK_HELP)
    preview.add_from_argument(parser)


def run(args, ctx):
    if args.preview:
        preview.execute(ctx, args.stage, "infra", args.preview, git.head(ctx))
        return 0
    spec = specs.infra(ctx, args.stage, git.head(ctx), rollback=args.rollback, bucket=args.bucket)
    deploy(ctx, spec, execute=not args.no_execute_changeset)
    return 0
