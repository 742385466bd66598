"""``python -m ops deploy-infra``: what the host needs reaches the bucket before the change set.

moto serves CloudFormation (the bootstrap stack's outputs and a change set of the real
cloudformation/infra.yaml, left unexecuted) and S3 (the artifacts bucket).
"""

import hashlib

import boto3

from ops import stages
from ops.cli import main
from tests.support.aws import REGION, bootstrap_stage

BUCKET = "pets-artifacts-dev-123456789012-us-east-1"


def _parameters(cf, stack):
    (summary,) = cf.list_change_sets(StackName=stack)["Summaries"]
    change_set = cf.describe_change_set(ChangeSetName=summary["ChangeSetId"])
    return {p["ParameterKey"]: p["ParameterValue"] for p in change_set["Parameters"]}


def test_deploy_infra_uploads_the_hosts_requirements_and_names_them_and_the_release(ctx):
    bootstrap_stage(BUCKET)
    s3 = boto3.client("s3", region_name=REGION)

    assert main(["deploy-infra", "--stage", "dev", "--no-execute-changeset"], ctx) == 0

    data = (stages.ROOT / "requirements-migrate.txt").read_bytes()
    key = f"migrations/requirements-{hashlib.sha256(data).hexdigest()}.txt"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    sent = _parameters(boto3.client("cloudformation", region_name=REGION), "pets-dev-infra")
    assert sent["HostRequirementsKey"] == key
    assert sent["HostOsRelease"] == stages.HOST_OS_RELEASE

    # A second deploy finds the same bytes there and does not upload them again.
    assert main(["deploy-infra", "--stage", "dev", "--no-execute-changeset"], ctx) == 0
    assert f"already uploaded: s3://{BUCKET}/{key}" in ctx.out.getvalue()


def test_deploy_infra_without_a_bootstrapped_stage_says_so_in_one_line(ctx):
    assert main(["deploy-infra", "--stage", "dev"], ctx) == 1
    assert ctx.err.getvalue() == (
        "deploy-infra: the pets-bootstrap-dev stack does not exist: bootstrap the stage first "
        "(python -m ops bootstrap, docs/deploy.md) or pass --bucket\n"
    )
