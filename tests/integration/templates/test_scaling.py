"""Readers, RDS Proxy and where the API reads, as the infra template deploys them.

Each test resolves the template's conditions, rules and Fn::If for a set of parameters
(tests/support/templates.py ``deployed``), so what is checked is what a stack with those
parameters would hold: no reader and no proxy by default (dev still pauses, and costs what
docs/cost.md says), readers that fail over in a known order and pause with the writer, a proxy
with IAM authentication end to end and TLS, and the API reading from the reader endpoint exactly
when there is a reader.
"""

import pytest

from ops.cfn import capacity
from tests.support.templates import as_list, deployed, ingress_rules, statements

READERS = ("DbReaderInstance1", "DbReaderInstance2")
PROXY = (
    "DbProxy",
    "DbProxyRole",
    "DbProxyTargetGroup",
    "DbProxySecurityGroup",
    "DbProxyIngressFromApi",
    "DbIngressFromProxy",
    "ApiEgressToProxy",
)


def instances(resources):
    return {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::RDS::DBInstance"}


def test_defaults_deploy_one_writer_and_no_proxy(infra):
    resources, outputs, failed = deployed(infra)
    assert failed == []
    assert set(instances(resources)) == {"DbInstance"}
    assert not set(PROXY) & set(resources)
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::RDS::DBProxy")]
    # The API reads from the writer, and its IAM token names the cluster.
    writer = {"Fn::GetAtt": ["DbCluster", "Endpoint.Address"]}
    assert outputs["DbApiReadEndpoint"] == writer
    assert outputs["DbApiWriterEndpoint"] == writer
    assert outputs["DbApiConnectResourceId"] == {"Fn::GetAtt": ["DbCluster", "DBClusterResourceId"]}


@pytest.mark.parametrize(("count", "expected"), [("1", READERS[:1]), ("2", READERS)])
def test_reader_count_adds_that_many_readers(infra, count, expected):
    resources, outputs, _ = deployed(infra, DbReaderCount=count)
    assert set(instances(resources)) == {"DbInstance", *expected}
    assert outputs["DbApiReadEndpoint"] == {"Fn::GetAtt": ["DbCluster", "ReadEndpoint.Address"]}
    assert outputs["DbApiWriterEndpoint"] == {"Fn::GetAtt": ["DbCluster", "Endpoint.Address"]}


def test_readers_are_the_writers_twins_and_fail_over_in_order(infra):
    found = instances(deployed(infra, DbReaderCount="2")[0])
    writer = found.pop("DbInstance")
    for name, reader in found.items():
        for key in ("DBClusterIdentifier", "DBInstanceClass", "Engine", "DBParameterGroupName"):
            assert reader[key] == writer[key], (name, key)
        assert reader["PubliclyAccessible"] is False
    tiers = {name: props["PromotionTier"] for name, props in found.items()}
    assert tiers == {"DbReaderInstance1": 0, "DbReaderInstance2": 1}
    # Tiers 0-1 scale with the writer (ready to take over) and pause with it (dev still pauses).
    assert writer["PromotionTier"] <= 1
    # The first failover target is not in the first private subnet's AZ.
    assert found["DbReaderInstance1"]["AvailabilityZone"] == {"Fn::Select": [1, {"Fn::GetAZs": ""}]}


def test_reader_count_is_a_choice_of_none_one_or_two(infra):
    spec = infra["Parameters"]["DbReaderCount"]
    assert spec["Default"] == 0
    assert [str(v) for v in spec["AllowedValues"]] == ["0", "1", "2"]


def test_the_proxy_authenticates_with_iam_end_to_end_and_requires_tls(infra):
    resources, outputs, failed = deployed(infra, EnableDbProxy="true", DbMinCapacity="0.5")
    assert failed == []
    assert set(PROXY) <= set(resources)
    proxy = resources["DbProxy"]["Properties"]
    assert proxy["DefaultAuthScheme"] == "IAM_AUTH"
    assert "Auth" not in proxy  # no Secrets Manager secret: the proxy signs its own IAM tokens
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "MYSQL"
    assert proxy["VpcSubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    assert proxy["VpcSecurityGroupIds"] == [{"Ref": "DbProxySecurityGroup"}]
    target = resources["DbProxyTargetGroup"]["Properties"]
    assert target["DBClusterIdentifiers"] == [{"Ref": "DbCluster"}]
    # The API reaches the writer through the proxy and signs its token for the proxy.
    through_proxy = {"Fn::GetAtt": ["DbProxy", "Endpoint"]}
    assert outputs["DbApiReadEndpoint"] == through_proxy
    assert outputs["DbApiWriterEndpoint"] == through_proxy
    resource_id = outputs["DbApiConnectResourceId"]
    assert resource_id == {
        "Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["DbProxy", "DBProxyArn"]}]}]
    }  # arn:aws:rds:<region>:<account>:db-proxy:prx-... -> prx-...


def test_the_proxy_role_may_only_connect_to_the_cluster_as_the_stage_api_user(infra):
    resources, _, _ = deployed(infra, EnableDbProxy="true", DbMinCapacity="0.5")
    role = resources["DbProxyRole"]["Properties"]
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    granted = [
        (action, statement["Resource"])
        for policy in role["Policies"]
        for statement in statements(policy["PolicyDocument"])
        for action in as_list(statement["Action"])
    ]
    assert granted == [
        (
            "rds-db:connect",
            {
                "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:"
                "dbuser:${DbCluster.DBClusterResourceId}/pets_api_${Stage}"
            },
        )
    ]
    assert "ManagedPolicyArns" not in role


def test_with_proxy_and_readers_the_api_reads_through_the_proxys_read_only_endpoint(infra):
    resources, outputs, _ = deployed(
        infra, EnableDbProxy="true", DbMinCapacity="0.5", DbReaderCount="1"
    )
    endpoint = resources["DbProxyReadOnlyEndpoint"]["Properties"]
    assert endpoint["TargetRole"] == "READ_ONLY"
    assert outputs["DbApiReadEndpoint"] == {"Fn::GetAtt": ["DbProxyReadOnlyEndpoint", "Endpoint"]}
    assert outputs["DbApiWriterEndpoint"] == {"Fn::GetAtt": ["DbProxy", "Endpoint"]}
    # Without readers a read-only proxy endpoint would refuse every connection: it is not made.
    assert (
        "DbProxyReadOnlyEndpoint" not in deployed(infra, EnableDbProxy="true", DbMinCapacity="1")[0]
    )


def test_a_proxy_with_a_minimum_of_zero_is_refused(infra):
    """A proxy keeps the cluster from pausing; a minimum of 0 would only hide that cost."""
    assert deployed(infra, EnableDbProxy="true")[2] == ["ProxyNeedsAMinimumCapacity"]
    assert deployed(infra, EnableDbProxy="true", DbMinCapacity="0.5")[2] == []
    assert deployed(infra, DbMinCapacity="0")[2] == []  # without a proxy, 0 pauses


def test_the_proxy_leaves_room_for_migrations_and_developers(infra):
    """At the smallest maximum capacity, the proxy's share of max_connections leaves at least the
    connections the capacity model keeps free without a proxy."""
    resources, _, _ = deployed(infra, EnableDbProxy="true", DbMinCapacity="0.5")
    percent = resources["DbProxyTargetGroup"]["Properties"]["ConnectionPoolConfigurationInfo"][
        "MaxConnectionsPercent"
    ]
    smallest = min(float(v) for v in infra["Parameters"]["DbMaxCapacity"]["AllowedValues"])
    limit = capacity.max_connections(smallest)
    assert limit - limit * percent // 100 >= capacity.OTHER_CONNECTIONS


def test_only_the_api_reaches_the_proxy_and_the_proxy_only_the_database(infra):
    resources, _, _ = deployed(infra, EnableDbProxy="true", DbMinCapacity="0.5")
    template = {"Resources": resources}
    into_proxy = [r for g, r in ingress_rules(template) if g == {"Ref": "DbProxySecurityGroup"}]
    assert [r["SourceSecurityGroupId"] for r in into_proxy] == [{"Ref": "ApiSecurityGroup"}]
    (out,) = resources["DbProxySecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert out["DestinationSecurityGroupId"] == {"Ref": "DbSecurityGroup"}
    for rule in [*into_proxy, out]:
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 3306, 3306)
