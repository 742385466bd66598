"""Load CloudFormation templates the way cfn-lint does, and walk their IAM policies and rules.

``cfnlint.decode.cfn_yaml`` understands the short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``)
and turns them into the long form (``{"Ref": ...}``, ``{"Fn::GetAtt": [name, attr]}``), so the
tests compare plain dictionaries.
"""

import json
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "cloudformation"
CHALICE_CONFIG = ROOT / "chalice_app" / ".chalice" / "config.json"


def load(name):
    return _plain(cfn_yaml.load(str(TEMPLATES / name)))


def _plain(node):
    """cfn-lint's nodes carry line numbers; plain dicts and lists compare and print better."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, str):
        return str(node)
    return node


def chalice_config():
    return json.loads(CHALICE_CONFIG.read_text())


def resources(template, type_=None):
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if type_ is None or resource.get("Type") == type_
    }


def props(template, name):
    return template["Resources"][name].get("Properties", {})


def policy_documents(template):
    """Yield ``(where, document)`` for every IAM policy document in the template."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Role",):
            for policy in properties.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, properties["PolicyDocument"]


def statements(document):
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value):
    return value if isinstance(value, list) else [value]


def ingress_rules(template):
    """Every ingress rule: inline in a security group, or a standalone ingress resource."""
    rules = []
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            for rule in properties.get("SecurityGroupIngress", []):
                rules.append(({"Ref": name}, rule))
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules.append((properties["GroupId"], properties))
    return rules


def walk(node, path=()):
    """Yield ``(path, key, value)`` for every mapping entry in the template, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def parameter_values(template, **given):
    """Every parameter's value as CloudFormation sees it: ``given`` ones, else the Default,
    as strings (a Number parameter's Ref is a string in Fn::Equals)."""
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    unknown = set(given) - set(values)
    assert not unknown, f"not parameters of the template: {sorted(unknown)}"
    values.update({name: str(value) for name, value in given.items()})
    return values


_EVALUATED = {
    "Ref", "Condition", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains",
}  # fmt: skip


def evaluate(node, values, conditions):
    """The value of a condition, rule assertion or Fn::If-built value for these parameters.

    Understands what the templates use: Ref to a parameter, Fn::Equals, Fn::Not, Fn::And,
    Fn::Or, Fn::Contains, Condition, Fn::If; anything else (Fn::GetAtt, Fn::Select ...) is
    returned as it is, so a resolved Fn::If shows the branch it took.
    """
    if isinstance(node, list):
        return [evaluate(item, values, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or next(iter(node)) not in _EVALUATED:
        return {key: evaluate(value, values, conditions) for key, value in node.items()}
    ((key, arg),) = node.items()
    if key == "Ref":
        return values.get(arg, node)  # a resource's Ref stays as it is
    if key == "Condition":
        return conditions[arg]
    if key == "Fn::If":
        name, when_true, when_false = arg
        return evaluate(when_true if conditions[name] else when_false, values, conditions)
    if key == "Fn::Equals":
        left, right = (evaluate(a, values, conditions) for a in arg)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not evaluate(arg[0], values, conditions)
    if key == "Fn::And":
        return all(evaluate(a, values, conditions) for a in arg)
    if key == "Fn::Or":
        return any(evaluate(a, values, conditions) for a in arg)
    options, value = (evaluate(a, values, conditions) for a in arg)  # Fn::Contains
    return str(value) in [str(o) for o in options]


def conditions_for(template, values):
    """``{condition: bool}`` for parameter ``values`` (conditions may refer to earlier ones)."""
    resolved = {}
    pending = dict(template.get("Conditions", {}))
    while pending:
        before = len(pending)
        for name, node in list(pending.items()):
            try:
                resolved[name] = evaluate(node, values, resolved)
            except KeyError:
                continue  # refers to a condition not resolved yet
            del pending[name]
        assert len(pending) < before, f"conditions refer to unknown ones: {sorted(pending)}"
    return resolved


def deployed(template, **given):
    """What a stack of ``template`` would hold for these parameters: ``(resources, outputs,
    failed rule names)``, conditions applied and Fn::If resolved."""
    values = parameter_values(template, **given)
    conditions = conditions_for(template, values)
    resources = {
        name: evaluate(resource, values, conditions)
        for name, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition"), True)
    }
    outputs = {
        name: evaluate(output["Value"], values, conditions)
        for name, output in template.get("Outputs", {}).items()
        if conditions.get(output.get("Condition"), True)
    }
    failed = [
        name
        for name, rule in template.get("Rules", {}).items()
        if evaluate(rule.get("RuleCondition", True), values, conditions)
        and not all(evaluate(a["Assert"], values, conditions) for a in rule["Assertions"])
    ]
    return resources, outputs, failed
