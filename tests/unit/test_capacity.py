"""ops/cfn/capacity.py: the reservation that fits the account, and the connection model.

Reservations may leave no fewer than 100 executions unreserved, or, in an account whose whole
quota is below 100, no fewer than the quota (Lambda's PutFunctionConcurrency). Expected
connection values are Aurora's documented max_connections for Aurora Serverless v2 by maximum
ACU (90 at 1 ACU, 135 at 4, 1,000 at 8, 2,000 at 16), typed in, less the 10 kept for migrations
and developers.
"""

import pytest

from ops.cfn import capacity, templates
from ops.cfn.capacity import Account, current_reservation, decide
from ops.errors import OpsError

# What the template reads as "reserve nothing" (merge.yaml, Condition ReserveConcurrency).
NONE = -1


@pytest.mark.parametrize(
    ("total", "unreserved", "current", "reserved", "limit"),
    [
        (10, 10, 0, NONE, 10),  # a new account: nothing can be reserved
        (50, 50, 0, NONE, 50),  # a quota below 100 is its own floor
        (1000, 1000, 0, 10, 10),  # the default quota: plenty of room
        (1000, 110, 0, 10, 10),  # exactly enough: 100 stay unreserved
        (1000, 109, 0, NONE, 109),  # one short: none, and the pool is the limit
        (1000, 100, 10, 10, 10),  # the API's own reservation comes back when it is replaced
        (200, 150, 0, 10, 10),  # other functions reserve 50 of a raised quota
    ],
)
def test_reserves_what_fits_or_none(total, unreserved, current, reserved, limit):
    decision = decide(10, Account(total, unreserved), current)
    assert (decision.reserved, decision.limit) == (reserved, limit)
    assert decision.parameter == str(reserved)


def test_the_reason_says_which_and_why():
    none = decide(10, Account(10, 10))
    assert none.reason.startswith("reserving no concurrency: 10 does not fit")
    assert "quota is 10 concurrent executions" in none.reason and "docs/deploy.md" in none.reason
    some = decide(10, Account(1000, 1000))
    assert some.reason.startswith("reserving 10 concurrent executions")


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ([{"ParameterKey": "ReservedConcurrency", "ParameterValue": "10"}], 10),
        ([{"ParameterKey": "ReservedConcurrency", "ParameterValue": "-1"}], 0),
        ([{"ParameterKey": "Stage", "ParameterValue": "dev"}], 0),
    ],
)
def test_the_current_reservation_is_read_from_the_deployed_stack(parameters, expected):
    assert current_reservation({"Parameters": parameters}) == expected
    assert current_reservation(None) == 0


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
