"""``python -m ops deploy-api --stage S``: roll out the packaged API to a stage.

Steps: find the stage's artifacts bucket (its bootstrap stack's ArtifactsBucket output, or
``--bucket``);
upload the RDS CA bundle of the region to ``s3://<bucket>/rds-ca/<region>-<sha256>.pem`` (the API
verifies Aurora's TLS certificate with it, through ``DB_SSL_CA``); upload ``deployment.zip``
content-addressed and point ``CodeUri`` at it (``ops.artifacts``); read the account's Lambda
concurrency and reserve what fits, or none, saying which (``ops.cfn.capacity``); deploy
``pets-<stage>-api`` through the same code as ``stack-deploy``; print the ``EndpointURL`` output.

The CA bundle is downloaded here, by the pipeline (the GitHub runner has internet), so the
Lambda never needs internet access; it is fetched through ``ctx.fetch``, so tests never touch
the network.
"""

from pathlib import Path

from ops import report, stages
from ops.cfn import artifacts, capacity, templates
from ops.cfn.changeset import StackSpec
from ops.cfn.deploy import deploy
from ops.cfn.execute import POLL_SECONDS
from ops.cfn.stacks import current_stack
from ops.errors import OpsError


def add_arguments(parser):
    parser.description = (
        "Upload build/api/deployment.zip (content-addressed) and the region's RDS CA "
        "bundle to the artifacts bucket, rewrite CodeUri, deploy pets-<stage>-api "
        "through stack-deploy and print its EndpointURL."
    )
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--bucket",
        help=(
            "artifacts bucket (default: the stage's pets-bootstrap-<stage> ArtifactsBucket; the "
            "API template reads the CA bundle from that exported bucket, so override only with it)"
        ),
    )
    parser.add_argument(
        "--package-dir",
        type=Path,
        metavar="DIR",
        default=stages.ROOT / "build" / "api",
        help="where make package wrote sam.yaml and deployment.zip (default: build/api)",
    )
    parser.add_argument(
        "--rds-ca-bundle",
        type=Path,
        metavar="FILE",
        help="use this PEM file instead of downloading the region's RDS CA bundle",
    )
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


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise ValueError(text)
    return int(text)


_positive.__name__ = "positive integer"  # argparse names the type in its error


def run(args, ctx):
    deploy_api(
        ctx,
        args.stage,
        bucket=args.bucket,
        package_dir=args.package_dir,
        bundle_file=args.rds_ca_bundle,
        execute=not args.no_execute_changeset,
        reserved_concurrency=args.reserved_concurrency,
    )
    return 0


def deploy_api(
    ctx,
    stage,
    bucket=None,
    package_dir=None,
    bundle_file=None,
    execute=True,
    poll=POLL_SECONDS,
    reserved_concurrency=None,
):
    """Deploy the API of ``stage``; return its endpoint URL (None when only previewed)."""
    target = stages.stack(stage, "api")
    template_path = Path(package_dir) / "sam.yaml" if package_dir else target.template
    if not template_path.is_file():
        raise OpsError(
            f"no packaged API at {template_path}: run make package "
            "(python -m ops package-api) first"
        )
    _, template = templates.read(template_path)
    parameters = dict(target.parameters)
    wanted = reserved_concurrency or stages.get(stage).reserved_concurrency
    concurrency = _concurrency(ctx, target.name, wanted)
    if concurrency is not None:
        parameters["ReservedConcurrency"] = concurrency.parameter
    database = check_database_connections(ctx, stage, template, parameters, concurrency)
    bucket = stages.artifacts_bucket(ctx, stage, bucket)
    region = ctx.client("s3").meta.region_name
    _, ca_sha256 = artifacts.upload_rds_ca_bundle(
        ctx, bucket, region, bundle_file, proxy=bool(database and database.proxy)
    )
    body = artifacts.packaged_template(ctx, template_path, bucket)
    spec = StackSpec(
        name=target.name,
        template_body=body,
        parameters={**parameters, "DbSslCaSha256": ca_sha256},
        capabilities=target.capabilities,
        tags=target.tags,
        s3_bucket=bucket,
        s3_prefix=f"templates/{stage}",
        role_arn=stages.execution_role_arn(ctx, stage),
    )
    outputs = deploy(ctx, spec, execute=execute, poll=poll)
    if outputs is None:
        return None
    url = outputs.get("EndpointURL")
    if not url:
        raise OpsError(f"{target.name} has no EndpointURL output; is {template_path} the API?")
    ctx.say(f"endpoint: {url}")
    report.append_summary(ctx, f"### API endpoint ({stage})\n\n{url}")
    return url


def _concurrency(ctx, stack_name, wanted):
    """The account's room for a reservation, decided and said; None when it cannot be read."""
    account = capacity.read_account(ctx)
    if account is None:
        ctx.say(
            "deploy-api: ReservedConcurrency stays as deployed (a new stack reserves none); "
            "the deploy role needs lambda:GetAccountSettings to decide"
        )
        return None
    current = capacity.current_reservation(current_stack(ctx.client("cloudformation"), stack_name))
    decision = capacity.decide(wanted, account, current)
    ctx.say(f"deploy-api: {decision.reason}")
    report.append_summary(ctx, f"### API concurrency (`{stack_name}`)\n\n{decision.reason}")
    return decision


def check_database_connections(ctx, stage, template, parameters, concurrency=None):
    """Refuse (``OpsError``) an API that could hold more database connections than the stage's
    database takes; say how many it can hold otherwise. Returns the ``capacity.Database`` of
    the infra stack, or None when there is no infra stack to check against (the deploy then
    fails on its imports, with CloudFormation's own message).

    The containers counted are the most the function can have: what ``concurrency`` (the
    decision above) allows, else the ReservedConcurrency the change set will give it
    (``parameters``, else the deployed value, else the template's Default); with -1 the
    function can use all of the account's unreserved concurrency, which GetAccountSettings
    reports.
    """
    cf = ctx.client("cloudformation")
    infra = current_stack(cf, stages.stack_name(stage, "infra"))
    if infra is None:
        return None
    database = capacity.Database.from_parameters(
        {p["ParameterKey"]: p.get("ParameterValue") for p in infra.get("Parameters") or []}
    )
    if concurrency is not None:
        containers = concurrency.limit
        source = (
            f"ReservedConcurrency={concurrency.reserved}"
            if concurrency.reserved != capacity.NONE
            else "ReservedConcurrency=-1 (the account's unreserved concurrency)"
        )
    else:
        api = current_stack(cf, stages.stack_name(stage, "api"))
        reserved = templates.effective_parameter(template, parameters, api, "ReservedConcurrency")
        if reserved is None:
            return database  # a template that does not size the function (not the API's)
        if int(reserved) == capacity.NONE:
            limit = ctx.client("lambda").get_account_settings()["AccountLimit"]
            containers = limit["UnreservedConcurrentExecutions"]
            source = "ReservedConcurrency=-1 (the account's unreserved concurrency)"
        else:
            containers, source = int(reserved), f"ReservedConcurrency={reserved}"
    for line in capacity.check_connections(database, containers, source):
        ctx.say(line)
    return database
