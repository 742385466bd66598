"""deploy-api refuses a stage where the API could hold more connections than the database takes.

moto plays CloudFormation and S3: a stand-in infra stack carries the database parameters
(tests/support/apistack.py) and the stand-in package declares ReservedConcurrency. moto has no
Lambda GetAccountSettings, so the tests of ``ReservedConcurrency=-1`` answer it with a botocore
Stubber. The limits in the expectations are Aurora's documented max_connections (90 at 1-2 ACU,
135 at 4 ACU) less the 10 kept for migrations and developers.
"""

import boto3
import pytest

from ops.cfn import artifacts
from ops.cfn.specs import Sources
from ops.commands.deploy_api import deploy_api
from ops.errors import OpsError
from tests.support.apistack import PEM, SAM_TEMPLATE, create_infra_stack, make_package
from tests.support.aws import bootstrap_stage, lambda_account
from tests.support.http import answering

pytestmark = [pytest.mark.filterwarnings("ignore:Tried to parse AWS")]

ROOT_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBroot\n-----END CERTIFICATE-----\n"


@pytest.fixture
def stage(ctx):
    """The bootstrap bucket and an API stack (so EndpointURL exists), as test_deploy_api's."""
    bootstrap_stage("pets-artifacts-123")
    cf = boto3.client("cloudformation", region_name="us-east-1")
    ctx.fetch = answering(PEM)
    return cf


def uploaded():
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket="pets-artifacts-123"
    )
    return [o["Key"] for o in listing.get("Contents", [])]


def api_stack(cf, **parameters):
    cf.create_stack(
        StackName="pets-dev-api",
        TemplateBody=SAM_TEMPLATE.replace(
            "Resources:\n", "  ReservedConcurrency:\n    Type: Number\nResources:\n", 1
        ),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}]
        + [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
    )


def test_the_default_fits_and_the_deploy_says_how_many_connections(ctx, stage, tmp_path):
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=0, EnableDbProxy="false")
    api_stack(stage, ReservedConcurrency=10)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=10)))
    assert "connections: at most 10 (ReservedConcurrency=10) of the 80" in ctx.out.getvalue()


def test_more_containers_than_connections_is_refused_before_anything_is_uploaded(
    ctx, stage, tmp_path
):
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=0, EnableDbProxy="false")
    package = make_package(tmp_path, reserved_concurrency=81)
    with pytest.raises(OpsError, match="lower ReservedConcurrency to 80 or less") as refused:
        deploy_api(ctx, "dev", Sources(package_dir=package))
    assert "max_connections 90 at DbMaxCapacity=2 ACU" in str(refused.value)
    assert uploaded() == []


def test_more_capacity_makes_room(ctx, stage, tmp_path):
    create_infra_stack(stage, DbMaxCapacity=4, DbReaderCount=0, EnableDbProxy="false")
    api_stack(stage, ReservedConcurrency=125)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=125)))
    assert "of the 125 the database keeps for the API" in ctx.out.getvalue()


def test_readers_do_not_raise_the_limit(ctx, stage, tmp_path):
    """The reader endpoint may put every container on one instance, and a failover all of
    them on the writer: two readers are not three times the connections."""
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=2, EnableDbProxy="false")
    with pytest.raises(OpsError, match="readers do not add to it"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=85)))


def test_the_deployed_value_counts_when_the_deploy_does_not_change_it(ctx, stage, tmp_path):
    """The change set keeps a deployed stack's ReservedConcurrency: that is what is checked."""
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=0, EnableDbProxy="false")
    api_stack(stage, ReservedConcurrency=200)
    with pytest.raises(OpsError, match="ReservedConcurrency=200 allows 200 warm containers"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=10)))


def reserving_none(ctx, unreserved, total=1000):
    """An account where the stage's 10 do not fit, so deploy-api reserves none.

    GetAccountSettings through a Stubber: moto does not implement it."""
    client, stub = lambda_account(total, unreserved)
    ctx._clients["lambda"] = client  # the Context's client cache: injected, not patched
    return stub


def test_reserving_none_counts_the_accounts_unreserved_concurrency(ctx, stage, tmp_path):
    # 105 unreserved: 10 would leave fewer than 100, so none is reserved and the function may
    # use all 105, more than the 80 connections a 1-ACU database keeps for the API.
    create_infra_stack(stage, DbMaxCapacity=1, DbReaderCount=0, EnableDbProxy="false")
    stub = reserving_none(ctx, unreserved=105)
    with pytest.raises(OpsError, match=r"ReservedConcurrency=-1 \(the account's unreserved"):
        deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=-1)))
    stub.assert_no_pending_responses()


def test_reserving_none_in_a_new_account_fits(ctx, stage, tmp_path):
    """A new account's concurrency quota can be 10: -1 is then the only choice, and it fits."""
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=0, EnableDbProxy="false")
    api_stack(stage, ReservedConcurrency=-1)
    reserving_none(ctx, unreserved=10, total=10)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=-1)))
    assert "connections: at most 10 (ReservedConcurrency=-1" in ctx.out.getvalue()


def test_with_the_proxy_any_concurrency_is_accepted_and_the_bundle_verifies_the_proxy(
    ctx, stage, tmp_path
):
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=1, EnableDbProxy="true")
    api_stack(stage, ReservedConcurrency=500)
    fetched = []

    def fetch(url, timeout=None, headers=None):
        fetched.append(url)
        return answering(ROOT_PEM if "amazontrust" in url else PEM)(url)

    ctx.fetch = fetch
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=500)))
    out = ctx.out.getvalue()
    assert "up to 500 containers (ReservedConcurrency=500) share RDS Proxy's pool" in out
    assert "warning: 500 containers starting at once" in out  # the IAM-auth connection rate
    assert fetched[1:] == list(artifacts.AMAZON_TRUST_ROOT_URLS)
    (bundle_key,) = [k for k in uploaded() if k.startswith("rds-ca/")]
    bundle = (
        boto3.client("s3", region_name="us-east-1")
        .get_object(Bucket="pets-artifacts-123", Key=bundle_key)["Body"]
        .read()
    )
    assert bundle.startswith(PEM) and bundle.count(ROOT_PEM) == len(
        artifacts.AMAZON_TRUST_ROOT_URLS
    )


def test_without_the_proxy_the_bundle_is_the_rds_one_alone(ctx, stage, tmp_path):
    create_infra_stack(stage, DbMaxCapacity=2, DbReaderCount=1, EnableDbProxy="false")
    api_stack(stage, ReservedConcurrency=10)
    calls = []
    ctx.fetch = answering(PEM, calls=calls)
    deploy_api(ctx, "dev", Sources(package_dir=make_package(tmp_path, reserved_concurrency=10)))
    assert [c for c in calls if "amazontrust" in c] == []
