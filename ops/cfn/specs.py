"""A stage's stacks as the change sets that deploy them: what ``deploy-infra``, ``deploy-api``
and ``preview`` send to CloudFormation, built in one place so a preview is the deploy.

* infra: ``cloudformation/infra.yaml`` with the stage's parameters (``ops.stages``), the commit
  it is deployed from (``SourceCommit``, ``ops.cfn.order``), the stage's execution role, and
  rollback triggers: the API stack's 5xx-rate and Lambda-error alarms, watched during the update
  and for the stage's monitoring period after it (``RollbackConfiguration``);
* api: the region's RDS CA bundle and ``deployment.zip`` uploaded content-addressed (skipped
  when the bucket already holds the same bytes), the packaged template rewritten to pin them,
  the bundle's digest (``DbSslCaSha256``) and the commit.
"""

from pathlib import Path

from ops import stages
from ops.cfn import artifacts, order
from ops.cfn.changeset import StackSpec
from ops.cfn.stacks import current_stack, outputs_of
from ops.errors import OpsError

# Outputs of the API stack naming the alarms an infra update rolls back on.
ROLLBACK_ALARM_OUTPUTS = ("Api5xxRateAlarmArn", "LambdaErrorsAlarmArn")


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


def infra(ctx, stage, commit, rollback=False, root=stages.ROOT):
    target = stages.stack(stage, "infra", root)
    return StackSpec(
        name=target.name,
        template_path=target.template,
        parameters={**target.parameters, "SourceCommit": commit},
        capabilities=target.capabilities,
        tags=target.tags,
        role_arn=stages.execution_role_arn(ctx, stage),
        s3_prefix=f"templates/{stage}",
        commit=commit,
        rollback=rollback,
        rollback_configuration=rollback_configuration(ctx, stage),
    )


def api(ctx, stage, commit, rollback=False, bucket=None, package_dir=None, bundle_file=None):
    """Upload what the API stack needs and return its spec (the template pins the uploads)."""
    target = stages.stack(stage, "api")
    stack = current_stack(ctx.client("cloudformation"), target.name)
    order.check(ctx, stack, commit, rollback, announce=False)
    template_path = Path(package_dir) / "sam.yaml" if package_dir else target.template
    if not template_path.is_file():
        raise OpsError(
            f"no packaged API at {template_path}: run make package "
            "(python -m ops package-api) first"
        )
    bucket = stages.artifacts_bucket(ctx, bucket)
    region = ctx.client("s3").meta.region_name
    _, ca_sha256 = artifacts.upload_rds_ca_bundle(ctx, bucket, region, bundle_file)
    body = artifacts.packaged_template(ctx, template_path, bucket)
    return StackSpec(
        name=target.name,
        template_body=body,
        parameters={
            **target.parameters,
            "DbSslCaSha256": ca_sha256,
            "SourceCommit": commit,
        },
        capabilities=target.capabilities,
        tags=target.tags,
        s3_bucket=bucket,
        s3_prefix=f"templates/{stage}",
        role_arn=stages.execution_role_arn(ctx, stage),
        commit=commit,
        rollback=rollback,
    )
