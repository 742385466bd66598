"""The capacity model (ops/cfn/capacity.py), and which ReservedConcurrency a deploy will give.

Expected values are Aurora's documented max_connections for Aurora Serverless v2 by maximum ACU
(90 at 1 ACU, 135 at 4, 1,000 at 8, 2,000 at 16), typed in, less the 10 kept for migrations and
developers.
"""

import pytest

from ops.cfn import capacity, templates
from ops.errors import OpsError


@pytest.mark.parametrize(
    ("max_acu", "expected"),
    [(1, 90), (2, 90), (4, 135), (8, 1000), (16, 2000), (128, 5000), (256, 5000)],
)
def test_max_connections_follows_the_documented_table_with_a_floor_between_points(
    max_acu, expected
):
    assert capacity.max_connections(max_acu) == expected


def test_below_the_documented_range_is_an_error_not_a_guess():
    with pytest.raises(OpsError, match="0.5 ACU"):
        capacity.max_connections(0.5)


def test_the_limit_is_one_instance_less_room_for_migrations():
    two_acu = capacity.Database(max_acu=2)
    assert capacity.check_connections(two_acu, 80, "ReservedConcurrency=80")
    with pytest.raises(OpsError, match="lower ReservedConcurrency to 80 or less"):
        capacity.check_connections(two_acu, 81, "ReservedConcurrency=81")
    with pytest.raises(OpsError):
        capacity.check_connections(capacity.Database(max_acu=2, readers=2), 81, "x")


def test_with_the_proxy_the_pool_caps_the_database_side():
    lines = capacity.check_connections(capacity.Database(max_acu=1, proxy=True), 150, "x")
    assert "RDS Proxy's pool" in lines[0] and len(lines) == 1


def test_a_burst_beyond_the_iam_connection_rate_is_a_warning():
    lines = capacity.check_connections(capacity.Database(max_acu=16), 250, "x")
    assert lines[-1].startswith("warning: 250 containers starting at once")
    assert len(capacity.check_connections(capacity.Database(max_acu=16), 200, "x")) == 1


def test_database_from_the_infra_parameters_of_an_older_stack():
    """A stack deployed before readers and the proxy existed has neither parameter."""
    assert capacity.Database.from_parameters({"DbMaxCapacity": "2"}) == capacity.Database(
        2, 0, False
    )
    with pytest.raises(OpsError, match="DbMaxCapacity"):
        capacity.Database.from_parameters({})


TEMPLATE = {"Parameters": {"ReservedConcurrency": {"Type": "Number", "Default": 10}}}


def stack(value):
    return {"Parameters": [{"ParameterKey": "ReservedConcurrency", "ParameterValue": value}]}


def test_the_value_a_change_set_gives_override_then_deployed_then_default():
    key = "ReservedConcurrency"
    assert templates.effective_parameter(TEMPLATE, {key: 5}, stack("7"), key) == "5"
    assert templates.effective_parameter(TEMPLATE, {}, stack("7"), key) == "7"
    assert templates.effective_parameter(TEMPLATE, {}, None, key) == "10"
    assert templates.effective_parameter({"Parameters": {}}, {}, None, key) is None
