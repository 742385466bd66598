"""A stage's stacks as the change sets that deploy them: what ``deploy-infra``, ``deploy-api``
and ``preview`` send to CloudFormation, built in one place so a preview is the deploy.

* infra: the migration runner's requirements uploaded to the key the ``HostRequirementsKey``
  parameter names (the host's cfn-init builds its venv from them, at boot and whenever the key
  changes: docs/migrations.md), then ``cloudformation/infra.yaml`` with the stage's parameters
  (``ops.stages``), the commit it is deployed from (``SourceCommit``, ``ops.cfn.order``), the
  stage's execution role, and rollback triggers: the API stack's 5xx-rate and Lambda-error
  alarms, watched during the update and for the stage's monitoring period after it
  (``RollbackConfiguration``);
* api: the account's Lambda concurrency read and the reservation that fits decided, or none
  (``ops.cfn.capacity``), and refused when the API could hold more database connections than
  the stage's database takes; the region's RDS CA bundle and ``deployment.zip`` uploaded
  content-addressed (skipped when the bucket already holds the same bytes), the packaged
  template rewritten to pin them, the bundle's digest (``DbSslCaSha256``) and the commit.

Every upload goes to the stage's own bucket, which only its pipeline writes.

With ``upload=False`` (``preview``, whose role writes ``plan/`` only) nothing is uploaded: the
change set names this build's content-addressed keys (pinning the version the bucket already
holds, if any), templates go under ``plan/``, and the spec lists each artifact it names
(``artifact``) for the deploy to upload, after approval, before it executes the change set.
"""

import base64
import dataclasses
import hashlib
from pathlib import Path

from ops import report, stages
from ops.cfn import artifacts, capacity, order, templates
from ops.cfn.changeset import StackSpec
from ops.cfn.stacks import current_stack, deployed_template, outputs_of
from ops.errors import OpsError

# Outputs of the API stack naming the alarms an infra update rolls back on.
ROLLBACK_ALARM_OUTPUTS = ("Api5xxRateAlarmArn", "LambdaErrorsAlarmArn")


@dataclasses.dataclass(frozen=True)
class Sources:
    """What a build deploys from: the artifacts bucket (None: the stage's own), the directory
    of the packaged API (None: the stage's template, build/api) and a local RDS CA bundle
    (None: the region's, downloaded)."""

    bucket: str | None = None
    package_dir: Path | None = None
    bundle_file: Path | None = None

    @classmethod
    def from_args(cls, args):
        """From ``--bucket``, ``--package-dir`` and ``--rds-ca-bundle``."""
        return cls(args.bucket, args.package_dir, args.rds_ca_bundle)


def add_api_package_arguments(parser):
    """Where the packaged API is, and an optional local RDS CA bundle."""
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


def rollback_configuration(ctx, stage):
    """Rollback triggers on the stage's API alarms; none (clearing old ones) without an API stack.

    The list is always sent: CloudFormation keeps a stack's triggers for later updates, and a
    trigger naming an alarm that no longer exists (the API stack was deleted) fails the update.
    """
    api = current_stack(ctx.client("cloudformation"), stages.stack_name(stage, "api"))
    outputs = outputs_of(api)
    arns = [outputs[name] for name in ROLLBACK_ALARM_OUTPUTS if outputs.get(name)]
    if not arns:
        return {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}
    return {
        "RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in arns],
        "MonitoringTimeInMinutes": stages.get(stage).monitoring_minutes,
    }


def artifact(bucket, key, data, label, source, version=None):
    """What a preview names without uploading it: where, its SHA-256, and where the deploy finds
    the same bytes (``repository:<path>``, ``package:<name>``, or ``inline`` with the bytes)."""
    found = {
        "bucket": bucket,
        "key": key,
        "sha256": hashlib.sha256(data).hexdigest(),
        "label": label,
        "source": source,
    }
    if version and version != "null":
        found["version"] = version
    if source == "inline":
        found["content"] = base64.b64encode(data).decode()
    return found


def infra(ctx, stage, commit, rollback=False, root=stages.ROOT, bucket=None, upload=True):
    target = stages.stack(stage, "infra", root)
    stack = current_stack(ctx.client("cloudformation"), target.name)
    order.check(ctx, stack, commit, rollback, announce=False)  # before anything is uploaded
    key, data = stages.host_requirements()
    bucket = stages.artifacts_bucket(ctx, stage, bucket)
    label = "the host's requirements"
    named = ()
    if upload:
        artifacts.put_if_absent(ctx, bucket, key, data, label, "text/plain")
    else:
        source = f"repository:{stages.HOST_REQUIREMENTS}"
        named = (
            artifact(
                bucket, key, data, label, source, artifacts.version_holding(ctx, bucket, key, data)
            ),
        )
    return StackSpec(
        name=target.name,
        template_path=target.template,
        parameters={**target.parameters, "SourceCommit": commit},
        capabilities=target.capabilities,
        tags=target.tags,
        role_arn=stages.execution_role_arn(ctx, stage),
        s3_prefix=f"templates/{stage}" if upload else f"plan/templates/{stage}",
        commit=commit,
        rollback=rollback,
        rollback_configuration=rollback_configuration(ctx, stage),
        artifacts=named,
    )


def api(ctx, stage, commit, sources, rollback=False, reserved_concurrency=None, upload=True):
    """Upload what the API stack needs and return its spec (the template pins the uploads)."""
    target = stages.stack(stage, "api")
    stack = current_stack(ctx.client("cloudformation"), target.name)
    order.check(ctx, stack, commit, rollback, announce=False)
    template_path = (
        Path(sources.package_dir) / "sam.yaml" if sources.package_dir else target.template
    )
    if not template_path.is_file():
        raise OpsError(
            f"no packaged API at {template_path}: run make package "
            "(python -m ops package-api) first"
        )
    _, template = templates.read(template_path)
    parameters = dict(target.parameters)
    wanted = reserved_concurrency or stages.get(stage).reserved_concurrency
    concurrency = _concurrency(ctx, target.name, stack, wanted)
    if concurrency is not None:
        parameters["ReservedConcurrency"] = concurrency.parameter
    database = check_database_connections(ctx, stage, template, parameters, concurrency)
    bucket = stages.artifacts_bucket(ctx, stage, sources.bucket)
    region = ctx.client("s3").meta.region_name
    proxy = bool(database and database.proxy)
    named = []
    if upload:
        _, ca_sha256 = artifacts.upload_rds_ca_bundle(
            ctx, bucket, region, sources.bundle_file, proxy
        )
        body = artifacts.packaged_template(ctx, template_path, bucket)
    else:
        key, data, label = artifacts.rds_ca_bundle(ctx, region, sources.bundle_file, proxy)
        ca_sha256 = hashlib.sha256(data).hexdigest()
        named.append(artifact(bucket, key, data, label, "inline"))
        found = []
        body = artifacts.packaged_template(
            ctx,
            template_path,
            bucket,
            upload_artifacts=False,
            deployed=deployed_template(ctx.client("cloudformation"), target.name),
            named=found,
        )
        for key, local, version in found:
            source = f"package:{local.relative_to(template_path.parent.resolve())}"
            named.append(artifact(bucket, key, local.read_bytes(), local.name, source, version))
    return StackSpec(
        name=target.name,
        template_body=body,
        parameters={**parameters, "DbSslCaSha256": ca_sha256, "SourceCommit": commit},
        capabilities=target.capabilities,
        tags=target.tags,
        s3_bucket=bucket,
        s3_prefix=f"templates/{stage}" if upload else f"plan/templates/{stage}",
        role_arn=stages.execution_role_arn(ctx, stage),
        commit=commit,
        rollback=rollback,
        artifacts=tuple(named),
    )


def _concurrency(ctx, name, stack, wanted):
    """The account's room for a reservation, decided and said; None when it cannot be read."""
    account = capacity.read_account(ctx)
    if account is None:
        ctx.say(
            "deploy-api: ReservedConcurrency stays as deployed (a new stack reserves none); "
            "the deploy role needs lambda:GetAccountSettings to decide"
        )
        return None
    decision = capacity.decide(wanted, account, capacity.current_reservation(stack))
    ctx.say(f"deploy-api: {decision.reason}")
    report.append_summary(ctx, f"### API concurrency (`{name}`)\n\n{decision.reason}")
    return decision


def check_database_connections(ctx, stage, template, parameters, concurrency=None):
    """Refuse (``OpsError``) an API that could hold more database connections than the stage's
    database takes; say how many it can hold otherwise. Returns the ``capacity.Database`` of
    the infra stack, or None when no infra stack is deployed to check against (the deploy then
    fails on its imports, with CloudFormation's own message; a preview of a new stage says the
    API cannot be previewed until infra is deployed).

    The containers counted are the most the function can have: what ``concurrency`` (the
    decision above) allows, else the ReservedConcurrency the change set will give it
    (``parameters``, else the deployed value, else the template's Default); with -1 the
    function can use all of the account's unreserved concurrency, which GetAccountSettings
    reports.
    """
    cf = ctx.client("cloudformation")
    infra_stack = current_stack(cf, stages.stack_name(stage, "infra"))
    # REVIEW_IN_PROGRESS: made by a change set (a preview of a new stage), never deployed.
    if infra_stack is None or infra_stack.get("StackStatus") == "REVIEW_IN_PROGRESS":
        return None
    database = capacity.Database.from_parameters(
        {p["ParameterKey"]: p.get("ParameterValue") for p in infra_stack.get("Parameters") or []}
    )
    if concurrency is not None:
        containers = concurrency.limit
        source = (
            f"ReservedConcurrency={concurrency.reserved}"
            if concurrency.reserved != capacity.NONE
            else "ReservedConcurrency=-1 (the account's unreserved concurrency)"
        )
    else:
        api_stack = current_stack(cf, stages.stack_name(stage, "api"))
        reserved = templates.effective_parameter(
            template, parameters, api_stack, "ReservedConcurrency"
        )
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
