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
