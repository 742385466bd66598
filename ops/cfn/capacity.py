"""How much of the account's capacity the API stack asks for: its reserved concurrency.

Reserved concurrency both guarantees the API that many concurrent executions and caps it there,
which also caps its database connections (one per warm container). Lambda lets an account
reserve only what leaves at least 100 executions unreserved; in an account whose whole quota is
below that (new accounts often have 10) the floor is the quota itself, so nothing can be
reserved, and a template that asks for any reservation fails to deploy (docs/deploy.md,
"Lambda concurrency").

``decide`` is the one place that turns the account's settings into the ``ReservedConcurrency``
parameter: it reserves what the stage wants when that fits, and otherwise reserves none (the
function then shares the account's unreserved pool), and says which. Other capacity rules (for
example reserved concurrency against the database's connection limit) belong in ``decide`` too.
"""

from dataclasses import dataclass

from ops.aws.errors import error_code, reason

# PutFunctionConcurrency: "as long as you leave at least 100 simultaneous executions unreserved".
UNRESERVED_MINIMUM = 100
NONE = -1  # the template's "reserve nothing" (merge.yaml: Condition ReserveConcurrency)


@dataclass(frozen=True)
class Account:
    """The ``AccountLimit`` of Lambda's GetAccountSettings, in the deploy's region."""

    total: int  # ConcurrentExecutions: the account's quota
    unreserved: int  # UnreservedConcurrentExecutions: the quota minus every reservation


@dataclass(frozen=True)
class Concurrency:
    reserved: int  # the ReservedConcurrency parameter: a count, or NONE
    limit: int  # the most executions (and database connections) the function can then have
    reason: str  # one line for the operator

    @property
    def parameter(self):
        return str(self.reserved)


def decide(wanted, account, current=0):
    """The reservation for a function that wants ``wanted`` and already holds ``current``.

    ``current`` counts as room: a reservation the function already holds returns to the
    unreserved pool when it is replaced.
    """
    floor = min(UNRESERVED_MINIMUM, account.total)
    pool = account.unreserved + current
    room = pool - floor
    quota = (
        f"the account's quota is {account.total} concurrent executions, {pool} of them "
        f"available to this function, and {floor} must stay unreserved"
    )
    if 0 < wanted <= room:
        return Concurrency(wanted, wanted, f"reserving {wanted} concurrent executions ({quota})")
    return Concurrency(
        NONE,
        pool,
        f"reserving no concurrency: {wanted} does not fit ({quota}); the API shares the "
        f"account's unreserved executions, up to {pool} (raise the quota: docs/deploy.md)",
    )


def read_account(ctx):
    """The account's Lambda concurrency, or None (saying why) when AWS refuses to tell.

    The answer only informs the decision, so a refusal (no lambda:GetAccountSettings, an
    emulator without the call) leaves the deployed value in place instead of failing the
    deploy; not reaching AWS at all still fails, as every other call would.
    """
    try:
        limits = ctx.client("lambda").get_account_settings()["AccountLimit"]
    except Exception as exc:
        if error_code(exc) is None:
            raise
        ctx.warn(f"deploy-api: cannot read the account's Lambda settings ({reason(exc)})")
        return None
    return Account(limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"])


def current_reservation(stack):
    """What the deployed API stack reserves now (its ReservedConcurrency), 0 for none."""
    for parameter in (stack or {}).get("Parameters") or []:
        if parameter.get("ParameterKey") == "ReservedConcurrency":
            value = parameter.get("ParameterValue", "")
            return int(value) if value.lstrip("-").isdigit() and int(value) > 0 else 0
    return 0
