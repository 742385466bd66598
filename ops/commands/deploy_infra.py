"""``python -m ops deploy-infra --stage S`` (what ``make deploy-infra`` runs): ``pets-S-infra``.

The stage's infrastructure stack as ``ops.stages`` describes it (template, parameters, tags,
capabilities), deployed through a change set by the same code as ``stack-deploy``, acting
through the stage's CloudFormation execution role when the account has a bootstrap stack.

First it uploads the migration runner's requirements to the key the ``HostRequirementsKey``
parameter names: the host's cfn-init builds its venv from them, at boot and whenever the key
changes (docs/migrations.md).
"""

from ops import stages
from ops.cfn import artifacts
from ops.cfn.changeset import StackSpec
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
    parser.add_argument(
        "--bucket",
        help=(
            "artifacts bucket (default: the stage's pets-bootstrap-<stage> ArtifactsBucket; the "
            "host reads its requirements from that exported bucket, so override only with it)"
        ),
    )


def run(args, ctx):
    target = stages.stack(args.stage, "infra")
    key, data = stages.host_requirements()
    bucket = stages.artifacts_bucket(ctx, args.stage, args.bucket)
    artifacts.put_if_absent(ctx, bucket, key, data, "the host's requirements", "text/plain")
    spec = StackSpec(
        name=target.name,
        template_path=target.template,
        parameters=target.parameters,
        capabilities=target.capabilities,
        tags=target.tags,
        role_arn=stages.execution_role_arn(ctx, args.stage),
    )
    deploy(ctx, spec, execute=not args.no_execute_changeset)
    return 0
