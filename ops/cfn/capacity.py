"""How much the API stack may take of the account and of its database.

Two questions, one answer each, both asked by ``deploy-api`` before anything is uploaded:

* **Lambda concurrency.** Reserved concurrency both guarantees the API that many concurrent
  executions and caps it there. Lambda lets an account reserve only what leaves at least 100
  executions unreserved; in an account whose whole quota is below that (new accounts often have
  10) the floor is the quota itself, so nothing can be reserved, and a template that asks for any
  reservation fails to deploy (docs/deploy.md, "Lambda concurrency"). ``decide`` reserves what
  the stage wants when that fits, and otherwise none (the function then shares the account's
  unreserved pool), and says which.
* **Database connections.** Without RDS Proxy every warm Lambda container holds one connection
  (chalicelib/db.py), so the API holds at most as many connections as it can have containers.
  They may all land on one instance: the reader endpoint spreads new connections by DNS with no
  guarantee, and while a reader restarts the containers read from the writer. So the limit is one
  instance's ``max_connections`` at the cluster's maximum capacity, less what the migration
  runner and developers need; readers add throughput, not connections. With the proxy, the proxy
  holds the database connections and takes at most its share of ``max_connections``
  (MaxConnectionsPercent in infra.yaml) whatever the concurrency. ``check_connections`` refuses
  a stage where the first can exceed the second (docs/scaling.md explains the model and its
  sources).
"""

from dataclasses import dataclass

from ops.aws.errors import error_code, reason
from ops.errors import OpsError

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


# Aurora MySQL's default max_connections on Aurora Serverless v2, by the cluster's maximum ACU
# (Aurora User Guide, "Maximum connections for Aurora Serverless v2"). It follows the memory of the
# maximum capacity, so between two documented points the lower one is a floor: 2 ACU counts as 90.
MAX_CONNECTIONS = ((1, 90), (4, 135), (8, 1000), (16, 2000), (32, 3000), (64, 4000), (128, 5000))
# Kept free for everything that is not the API: the migration runner and developers' sessions.
OTHER_CONNECTIONS = 10
# AWS recommends IAM database authentication below about 200 new connections per second.
IAM_NEW_CONNECTIONS_PER_SECOND = 200


@dataclass(frozen=True)
class Database:
    """What the infra stack's parameters say about the cluster."""

    max_acu: float
    readers: int = 0
    proxy: bool = False

    @classmethod
    def from_parameters(cls, parameters):
        """From ``{ParameterKey: value}`` of pets-<stage>-infra (a stack made before readers or
        the proxy existed has neither)."""
        try:
            return cls(
                max_acu=float(parameters["DbMaxCapacity"]),
                readers=int(parameters.get("DbReaderCount") or 0),
                proxy=parameters.get("EnableDbProxy") == "true",
            )
        except (KeyError, ValueError) as exc:
            message = f"cannot read the database's capacity from the infra stack: {exc}"
            raise OpsError(message) from exc


def max_connections(max_acu):
    """Aurora MySQL's max_connections for a cluster whose maximum capacity is ``max_acu``."""
    documented = [connections for acu, connections in MAX_CONNECTIONS if acu <= max_acu]
    if not documented:
        raise OpsError(f"no max_connections is documented for a maximum of {max_acu} ACU")
    return documented[-1]


def api_connection_limit(database):
    """How many connections the API may hold without a proxy."""
    return max_connections(database.max_acu) - OTHER_CONNECTIONS


def check_connections(database, containers, source):
    """The lines to report for ``containers`` warm containers at most (``source`` says where that
    number comes from); ``OpsError`` when they can hold more connections than the database takes.
    """
    total = max_connections(database.max_acu)
    at = f"max_connections {total} at DbMaxCapacity={database.max_acu:g} ACU"
    if database.proxy:
        lines = [
            f"connections: up to {containers} containers ({source}) share RDS Proxy's pool, "
            f"which takes at most its share of {at}"
        ]
    else:
        limit = api_connection_limit(database)
        if containers > limit:
            raise OpsError(
                f"{source} allows {containers} warm containers, each holding one database "
                f"connection, but the database takes {limit} from the API ({at}, less "
                f"{OTHER_CONNECTIONS} for migrations and developers; readers do not add to it): "
                f"lower ReservedConcurrency to {limit} or less, raise DbMaxCapacity, or set "
                "EnableDbProxy=true (docs/scaling.md)"
            )
        lines = [
            f"connections: at most {containers} ({source}) of the {limit} the database keeps "
            f"for the API ({at})"
        ]
    if containers > IAM_NEW_CONNECTIONS_PER_SECOND:
        lines.append(
            f"warning: {containers} containers starting at once would open more than the "
            f"{IAM_NEW_CONNECTIONS_PER_SECOND} new IAM-authenticated connections per second AWS "
            "recommends; raise the concurrency gradually (docs/scaling.md)"
        )
    return lines
