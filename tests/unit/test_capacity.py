"""ops.cfn.capacity.decide: reserve what the stage wants when the account has room, else none.

The rule (Lambda's PutFunctionConcurrency): reservations may leave no fewer than 100 executions
unreserved, or, in an account whose whole quota is below 100, no fewer than the quota.
"""

import pytest

from ops.cfn.capacity import NONE, Account, current_reservation, decide


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
