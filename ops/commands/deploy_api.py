"""``python -m ops deploy-api --stage S``: roll out the packaged API to a stage.

Steps (the spec is ``ops.cfn.specs.api``, the same one ``preview`` makes): refuse a commit that
does not descend from the deployed one (``ops.cfn.order``, unless ``--rollback``); read the
account's Lambda concurrency and reserve what fits, or none, saying which, and refuse more
containers than database connections (``ops.cfn.capacity``); find the stage's artifacts bucket
(its bootstrap stack's ArtifactsBucket output, or ``--bucket``); upload the RDS CA bundle of the
region to ``s3://<bucket>/rds-ca/<region>-<sha256>.pem`` (the API verifies Aurora's TLS
certificate with it, through ``DB_SSL_CA``); upload ``deployment.zip`` content-addressed and point
``CodeUri`` at it (``ops.cfn.artifacts``); deploy ``pets-<stage>-api`` through the same code as
``stack-deploy`` (or, with ``--from``, execute the change set ``preview`` kept); print the
``EndpointURL`` output, and in GitHub Actions set it as the step output ``url``.

The CA bundle is downloaded here, by the pipeline (the GitHub runner has internet), so the
Lambda never needs internet access; it is fetched through ``ctx.fetch``, so tests never touch
the network.
"""

from ops import git, report, stages
from ops.cfn import order, preview, specs
from ops.cfn.deploy import deploy
from ops.cfn.execute import POLL_SECONDS
from ops.errors import OpsError


def add_arguments(parser):
    parser.description = (
        "Upload build/api/deployment.zip (content-addressed) and the region's RDS CA "
        "bundle to the artifacts bucket, rewrite CodeUri, deploy pets-<stage>-api "
        "through stack-deploy and print its EndpointURL."
    )
    stages.add_stage_argument(parser)
    stages.add_bucket_argument(parser, "the API template reads the CA bundle")
    specs.add_api_package_arguments(parser)
    parser.add_argument(
        "--reserved-concurrency",
        type=_positive,
        metavar="N",
        help=(
            "concurrent executions to reserve for the API when the account has room; none are "
            "reserved otherwise (default: the stage's, 10)"
        ),
    )
    parser.add_argument(
        "--no-execute-changeset", action="store_true", help="upload and preview only"
    )
    parser.add_argument("--rollback", action="store_true", help=order.ROLLBACK_HELP)
    preview.add_from_argument(parser)


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise ValueError(text)
    return int(text)


_positive.__name__ = "positive integer"  # argparse names the type in its error


def run(args, ctx):
    if args.preview:
        outputs = preview.execute(
            ctx, args.stage, "api", args.preview, git.head(ctx), package_dir=args.package_dir
        )
        announce_endpoint(ctx, args.stage, outputs)
        return 0
    deploy_api(
        ctx,
        args.stage,
        specs.Sources.from_args(args),
        execute=not args.no_execute_changeset,
        reserved_concurrency=args.reserved_concurrency,
        rollback=args.rollback,
    )
    return 0


def deploy_api(
    ctx,
    stage,
    sources,
    execute=True,
    poll=POLL_SECONDS,
    reserved_concurrency=None,
    rollback=False,
):
    """Deploy the API of ``stage`` from ``sources`` (``specs.Sources``); return its endpoint URL
    (None when only previewed)."""
    spec = specs.api(ctx, stage, git.head(ctx), sources, rollback, reserved_concurrency)
    return announce_endpoint(ctx, stage, deploy(ctx, spec, execute=execute, poll=poll))


def announce_endpoint(ctx, stage, outputs):
    """Print and summarise the EndpointURL of a deployed API stack, and set it as the step
    output ``url`` (the deploy job's environment URL); return it."""
    if outputs is None:
        return None
    url = outputs.get("EndpointURL")
    if not url:
        raise OpsError(f"{stages.stack_name(stage, 'api')} has no EndpointURL output")
    ctx.say(f"endpoint: {url}")
    report.append_summary(ctx, f"### API endpoint ({stage})\n\n{url}")
    report.set_output(ctx, "url", url)
    return url
