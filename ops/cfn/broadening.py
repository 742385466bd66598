"""What a change widens: IAM permissions and security-group rules, found by comparing templates.

A change set lists the resources it touches, not what they will allow. As CDK's
``--require-approval broadening`` does, the template a stack runs (GetTemplate, as sent) is
compared with the one about to be deployed, and every way the new one allows more is listed so
a reviewer sees it before approving:

* **IAM**: every policy document in a resource's properties (inline role policies, managed and
  resource policies, trust policies) is split into single grants (effect, action, resource,
  principal, conditions). A new Allow grant is a widening unless an Allow statement of the same
  resource already covered it (its action and resource patterns match, its principal is the same
  or ``*``, and its conditions are all still there: dropping a condition widens). A Deny grant
  that is no longer there widens too, as do a new managed policy ARN, a permissions boundary
  removed or changed, a policy attached to another role, user or group, and a new
  ``AWS::Lambda::Permission`` grant;
* **security groups**: ingress and egress rules (inline, or ``SecurityGroupIngress``/``Egress``
  resources). A rule is a widening unless a rule of the same group, direction and peer already
  allowed its protocol and ports; removing every explicit egress rule of a group widens it to
  AWS's default allow-all egress.

Values that are intrinsic functions are compared as written (``{"Ref": ...}`` equals only
itself), since what they resolve to is unknown before the deploy. A stack that does not exist yet
has nothing deployed, so everything it grants is listed.
"""

import fnmatch
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Widening:
    kind: str  # "IAM" or "security group"
    resource: str  # logical id
    detail: str

    def line(self):
        return f"{self.kind} `{self.resource}`: {self.detail}"


def find(deployed, new):
    """Every widening from the template ``deployed`` (None: no stack yet) to ``new``."""
    old_resources = (deployed or {}).get("Resources") or {}
    new_resources = (new or {}).get("Resources") or {}
    found = []
    for logical_id, resource in new_resources.items():
        before = old_resources.get(logical_id)
        if before is not None and before.get("Type") != resource.get("Type"):
            before = None
        found += _iam(logical_id, before, resource)
    found += _security_groups(old_resources, new_resources)
    return found


# ---------------------------------------------------------------- IAM


@dataclass(frozen=True)
class _Grant:
    effect: str
    action: str
    resource: str
    principal: str
    conditions: frozenset


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principals(statement):
    if "NotPrincipal" in statement:
        return ["NOT " + _text(statement["NotPrincipal"])]
    principal = statement.get("Principal")
    if principal is None:
        return ["-"]
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return [_text(principal)]
    return [f"{kind}:{_text(v)}" for kind, values in principal.items() for v in _list(values)]


def _conditions(statement):
    condition = statement.get("Condition")
    if condition is None:
        return frozenset()
    if not isinstance(condition, dict):
        return frozenset({_text(condition)})
    pairs = set()
    for operator, tests in condition.items():
        if isinstance(tests, dict):
            pairs.update(f"{operator} {key} = {_text(value)}" for key, value in tests.items())
        else:
            pairs.add(f"{operator} {_text(tests)}")
    return frozenset(pairs)


def _grants(statement):
    effect = statement.get("Effect", "Allow") if isinstance(statement, dict) else "?"
    if not isinstance(statement, dict):
        return [_Grant(effect, _text(statement), "-", "-", frozenset())]
    if "NotAction" in statement:
        actions = ["NOT " + _text(statement["NotAction"])]
    else:
        actions = [_text(a) for a in _list(statement.get("Action"))] or ["-"]
    if "NotResource" in statement:
        resources = ["NOT " + _text(statement["NotResource"])]
    else:
        resources = [_text(r) for r in _list(statement.get("Resource"))] or ["-"]
    conditions = _conditions(statement)
    return [
        _Grant(effect, action, resource, principal, conditions)
        for action in actions
        for resource in resources
        for principal in _principals(statement)
    ]


def _matches(pattern, value, case_insensitive=False):
    if pattern == value:
        return True
    if pattern.startswith(("{", "NOT ")) or value.startswith(("{", "NOT ")):
        return False  # an intrinsic function or a negation: only itself
    if case_insensitive:
        return fnmatch.fnmatchcase(value.lower(), pattern.lower())
    return fnmatch.fnmatchcase(value, pattern)


def _covers(wide, narrow, ignore_conditions=False):
    """Does grant ``wide`` allow (or deny) at least what ``narrow`` does?"""
    return (
        wide.effect == narrow.effect
        and _matches(wide.action, narrow.action, case_insensitive=True)
        and _matches(wide.resource, narrow.resource)
        and (wide.principal in (narrow.principal, "*", "AWS:*"))
        and (ignore_conditions or wide.conditions <= narrow.conditions)
    )


def _documents(node, path=()):
    """``(kind, grants)`` of every policy document under ``node``: "trust" or "policy"."""
    if isinstance(node, dict):
        if "Statement" in node:
            kind = "trust" if "AssumeRolePolicyDocument" in path else "policy"
            yield kind, [g for s in _list(node["Statement"]) for g in _grants(s)]
            return
        for key, value in node.items():
            yield from _documents(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _documents(value, path)


def _lambda_permission(properties):
    conditions = frozenset(
        f"{key} = {_text(properties[key])}"
        for key in ("SourceArn", "SourceAccount", "PrincipalOrgID", "FunctionUrlAuthType")
        if key in properties
    )
    return [
        _Grant(
            "Allow",
            _text(properties.get("Action")),
            _text(properties.get("FunctionName")),
            _text(properties.get("Principal")),
            conditions,
        )
    ]


def _grants_by_kind(resource):
    properties = (resource or {}).get("Properties") or {}
    found = {"trust": [], "policy": []}
    if (resource or {}).get("Type") == "AWS::Lambda::Permission":
        found["policy"] = _lambda_permission(properties)
        return found
    for kind, grants in _documents(properties):
        found[kind] += grants
    return found


def _describe(grant, dropped=None):
    text = f"{grant.effect} {grant.action}"
    if grant.resource != "-":
        text += f" on {grant.resource}"
    if grant.principal != "-":
        text += f" to {grant.principal}"
    if dropped:
        text += " without the condition " + "; ".join(sorted(dropped))
    elif grant.conditions:
        text += " if " + "; ".join(sorted(grant.conditions))
    return text


def _iam(logical_id, before, after):
    found = []
    old, new = _grants_by_kind(before), _grants_by_kind(after)
    for kind in ("trust", "policy"):
        label = "trust policy: " if kind == "trust" else ""
        old_allows = [g for g in old[kind] if g.effect == "Allow"]
        for grant in dict.fromkeys(g for g in new[kind] if g.effect == "Allow"):
            if any(_covers(o, grant) for o in old_allows):
                continue
            loose = [o for o in old_allows if _covers(o, grant, ignore_conditions=True)]
            dropped = set().union(*(o.conditions - grant.conditions for o in loose)) or None
            found.append(Widening("IAM", logical_id, label + _describe(grant, dropped)))
        new_denies = [g for g in new[kind] if g.effect == "Deny"]
        for grant in dict.fromkeys(g for g in old[kind] if g.effect == "Deny"):
            if not any(n.conditions <= grant.conditions and _covers(
                n, grant, ignore_conditions=True) for n in new_denies):  # fmt: skip
                found.append(Widening("IAM", logical_id, label + "removes " + _describe(grant)))
    old_props = (before or {}).get("Properties") or {}
    new_props = (after or {}).get("Properties") or {}
    old_managed = {_text(a) for a in _list(old_props.get("ManagedPolicyArns"))}
    for arn in _list(new_props.get("ManagedPolicyArns")):
        if _text(arn) not in old_managed:
            found.append(Widening("IAM", logical_id, f"attaches managed policy {_text(arn)}"))
    if "PermissionsBoundary" in old_props and old_props.get("PermissionsBoundary") != (
        new_props.get("PermissionsBoundary")
    ):
        what = "removes" if "PermissionsBoundary" not in new_props else "changes"
        found.append(Widening("IAM", logical_id, f"{what} its permissions boundary"))
    for key in ("Roles", "Users", "Groups"):
        old_targets = {_text(t) for t in _list(old_props.get(key))}
        for target in _list(new_props.get(key)):
            if _text(target) not in old_targets and before is not None:
                found.append(Widening("IAM", logical_id, f"now applies to {_text(target)}"))
    return found


# ---------------------------------------------------------------- security groups

_PEERS = (
    "CidrIp",
    "CidrIpv6",
    "SourceSecurityGroupId",
    "SourceSecurityGroupName",
    "SourcePrefixListId",
    "DestinationSecurityGroupId",
    "DestinationPrefixListId",
)


@dataclass(frozen=True)
class _Rule:
    group: str
    direction: str
    protocol: str
    from_port: object
    to_port: object
    peer: str


def _group_ref(value):
    """A security group reference, written the same whether by Ref or by GetAtt GroupId."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        return _text({"Ref": name})
    return _text(value)


def _rule(group, direction, rule):
    protocol = str(rule.get("IpProtocol", "-1")).lower()
    protocol = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(protocol, protocol)
    peer = next((f"{k} {_group_ref(rule[k])}" for k in _PEERS if k in rule), "anywhere")
    return _Rule(group, direction, protocol, rule.get("FromPort"), rule.get("ToPort"), peer)


def _rules(resources):
    rules, explicit_egress = [], {}
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::EC2::SecurityGroup":
            group = _text({"Ref": logical_id})
            for rule in _list(properties.get("SecurityGroupIngress")):
                rules.append(_rule(group, "ingress", rule))
            egress = _list(properties.get("SecurityGroupEgress"))
            explicit_egress[group] = bool(egress)
            for rule in egress:
                rules.append(_rule(group, "egress", rule))
        elif kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            direction = "ingress" if kind.endswith("Ingress") else "egress"
            rules.append(_rule(_group_ref(properties.get("GroupId")), direction, properties))
    return rules, explicit_egress


def _port_covers(wide, narrow):
    if wide.protocol == "-1":
        return True
    if wide.protocol != narrow.protocol:
        return False
    ports = (wide.from_port, wide.to_port, narrow.from_port, narrow.to_port)
    if all(isinstance(p, int) for p in ports):
        return wide.from_port <= narrow.from_port and narrow.to_port <= wide.to_port
    return (wide.from_port, wide.to_port) == (narrow.from_port, narrow.to_port)


def _describe_rule(rule):
    ports = "all traffic" if rule.protocol == "-1" else f"{rule.protocol}"
    if rule.protocol != "-1" and rule.from_port is not None:
        same = rule.from_port == rule.to_port
        ports += f" {rule.from_port}" if same else f" {rule.from_port}-{rule.to_port}"
    side = "from" if rule.direction == "ingress" else "to"
    return f"{rule.direction} {ports} {side} {rule.peer}"


def _security_groups(old_resources, new_resources):
    old_rules, old_egress = _rules(old_resources)
    new_rules, new_egress = _rules(new_resources)
    found = []
    for rule in dict.fromkeys(new_rules):
        covered = any(
            (o.group, o.direction, o.peer) == (rule.group, rule.direction, rule.peer)
            and _port_covers(o, rule)
            for o in old_rules
        )
        if not covered:
            found.append(Widening("security group", _name(rule.group), _describe_rule(rule)))
    for group, had_rules in old_egress.items():
        if had_rules and new_egress.get(group) is False:
            found.append(
                Widening(
                    "security group",
                    _name(group),
                    "egress all traffic to anywhere (its explicit egress rules are removed)",
                )
            )
    return found


def _name(group):
    try:
        value = json.loads(group)
    except ValueError:
        return group
    return value.get("Ref", group) if isinstance(value, dict) else group
