"""IAM policy evaluation for tests, offline: AWS's decision for one request, not a policy's shape.

The evaluator is the maintained npm package ``@cloud-copilot/iam-simulate`` (pinned in
package.json and package-lock.json; AGPL, used unmodified as a test tool and never shipped). It
implements IAM's evaluation logic: explicit deny wins, permissions boundaries intersect, every
condition operator including ``IfExists``, ``ForAnyValue``/``ForAllValues`` and ``Null``, policy
variables in resources and condition values, and AWS's service data (which actions exist, which
resource types and condition keys each one takes). moto's IAM enforcement ignores conditions and
boundaries, so it cannot answer these questions.

This module starts one ``node iam_bridge.mjs`` per test session and speaks JSON lines to it.

Strict by design: a request the simulator rejects (an unknown action, an ARN of a resource type
the action does not take, a malformed policy) raises, and so does a context key that does not
apply to the action and resource (the simulator would drop it silently). A typo in a test's
condition key must fail the test, not turn into "key absent".

One stand-in: AWS names its own SSM documents and public parameters with an empty account
(``arn:aws:ssm:<region>::document/AWS-RunShellScript``,
``arn:aws:ssm:<region>::parameter/aws/service/...``), ARNs the simulator cannot parse. Every
such ARN, in the request and in the policies alike, is given the account ``aws``, which no
template uses, so what matches what is unchanged.

The simulator takes the request context as given: it does not add ``aws:PrincipalTag/*`` or the
resource's tags by itself, so the caller states them (``tests.support.reach`` does).
"""

import itertools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = Path(__file__).with_name("iam_bridge.mjs")
PACKAGE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"

# AWS's own SSM documents and public parameters, and the account they are given here.
AWS_OWNED = {"::document/": ":aws:document/", "::parameter/": ":aws:parameter/"}
ALLOWED = "Allowed"
EXPLICIT_DENY = "ExplicitlyDenied"
IMPLICIT_DENY = "ImplicitlyDenied"


class IamSimulationError(RuntimeError):
    """The simulator refused the request, or dropped a context key that does not apply."""


@dataclass
class Decision:
    result: str
    denials: list = field(default_factory=list)

    @property
    def allowed(self):
        return self.result == ALLOWED

    def __str__(self):
        return f"{self.result} {json.dumps(self.denials)}" if self.denials else self.result


def document(policy):
    """A policy document from a document, a list of statements or one statement."""
    if isinstance(policy, dict) and "Statement" in policy:
        return {"Version": "2012-10-17", **policy}
    statements = policy if isinstance(policy, list) else [policy]
    return {"Version": "2012-10-17", "Statement": statements}


def _named(policies, prefix):
    """``[{"name", "policy"}]`` from ``{name: document}`` or a list of documents."""
    if isinstance(policies, dict):
        return [{"name": name, "policy": document(p)} for name, p in policies.items()]
    return [{"name": f"{prefix}{i}", "policy": document(p)} for i, p in enumerate(policies, 1)]


def _account(arn):
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


class IamSimulator:
    def __init__(self):
        node = shutil.which("node")
        if not node:
            raise RuntimeError("IAM tests need Node.js 18 or newer (apt-get install nodejs)")
        if not PACKAGE.is_dir():
            raise RuntimeError(f"{PACKAGE} is missing: run `npm ci` (make does)")
        self._process = subprocess.Popen(
            [node, str(BRIDGE)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._ids = itertools.count(1)

    def close(self):
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def evaluate(
        self,
        action,
        resource,
        context=None,
        *,
        identity=(),
        boundary=None,
        principal,
        resource_policy=None,
    ):
        """AWS's decision on ``principal`` calling ``action`` on ``resource`` (one ARN).

        ``identity`` is ``{name: document}`` or a list of documents; ``boundary`` one document.
        """
        request = {
            "principal": principal,
            "action": action,
            "resource": {
                "resource": resource,
                "accountId": _account(resource) or _account(principal),
            },
            "contextVariables": dict(context or {}),
        }
        simulation = {"request": request, "identityPolicies": _named(identity, "identity")}
        if boundary is not None:
            simulation["permissionBoundaryPolicies"] = _named([boundary], "boundary")
        if resource_policy is not None:
            simulation["resourcePolicy"] = document(resource_policy)
        reply = self._ask(simulation)
        if reply["resultType"] != "single":
            raise IamSimulationError(f"{action} on {resource}: {json.dumps(reply.get('errors'))}")
        if reply["ignoredContextKeys"]:
            raise IamSimulationError(
                f"{action} on {resource} does not take the context keys "
                f"{reply['ignoredContextKeys']}: the test asks about a request AWS never makes"
            )
        return Decision(reply["overallResult"], reply["denials"])

    def _ask(self, simulation):
        request = {"id": next(self._ids), "simulation": simulation}
        line = json.dumps(request)
        for owned, stand_in in AWS_OWNED.items():
            line = line.replace(owned, stand_in)
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise IamSimulationError(f"the IAM bridge exited: {self._process.stderr.read()}")
        reply = json.loads(line)
        assert reply["id"] == request["id"], "the IAM bridge answered out of order"
        return reply


def github_may_assume(trust, subject, audience="sts.amazonaws.com"):
    """Whether ``trust`` (a role's resolved trust policy) lets a GitHub OIDC token with this
    ``sub`` and ``aud`` assume the role.

    The evaluator above knows no token claims of GitHub's provider (it refuses the keys), so this
    reads the two operators trust policies use for them, as IAM defines them: StringEquals (the
    value equals one of the listed values) and StringLike (``*`` any characters, ``?`` one).
    """
    claims = {
        "token.actions.githubusercontent.com:sub": subject,
        "token.actions.githubusercontent.com:aud": audience,
    }
    for statement in document(trust)["Statement"]:
        if statement["Effect"] != "Allow" or statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        if all(
            _matches(operator, claims.get(key), values)
            for operator, keys in statement.get("Condition", {}).items()
            for key, values in keys.items()
        ):
            return True
    return False


def _matches(operator, value, expected):
    expected = expected if isinstance(expected, list) else [expected]
    if value is None:
        return False
    if operator == "StringEquals":
        return value in expected
    if operator == "StringLike":
        return any(re.fullmatch(_like(pattern), value) for pattern in expected)
    raise AssertionError(f"a GitHub trust condition with {operator}: teach this reader first")


def _like(pattern):
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
