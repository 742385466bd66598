"""Reading CloudFormation templates, and merging parameters as ``aws cloudformation deploy`` does.

Templates are read locally before anything is sent, so a missing file, a YAML/JSON syntax error or
a template without resources is reported in one line with its location, and a parameter with no
value is named before CloudFormation is asked. The short-form intrinsic tags (``!Ref``,
``!GetAtt``, ``!Sub`` ...) are read as their long forms, so a YAML template can be inspected and,
where ``deploy-api`` rewrites it, written back as JSON that CloudFormation reads the same way.

Parameter merge (the AWS CLI's rules): only parameters the template declares are sent; an
override wins; an existing stack keeps its previous value for a parameter not overridden; a new
stack uses the template's Default; a parameter with neither is an error naming it.
"""

import json
from pathlib import Path

import yaml

from ops.errors import OpsError

# CloudFormation's limit for a template sent inline (TemplateBody); larger ones go through S3.
MAX_TEMPLATE_BODY = 51_200


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that also reads CloudFormation's ``!Tag`` shorthands as their long forms."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)
# CloudFormation reads timestamp-looking strings (a policy Version "2012-10-17") as strings.
CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse(text, source="template"):
    """The template as a dict; OpsError naming the line on a syntax error."""
    try:
        if text.lstrip().startswith("{"):
            document = json.loads(text)
        else:
            # The loader is a SafeLoader subclass: no arbitrary objects, only CloudFormation tags.
            document = yaml.load(text, Loader=CfnLoader)  # noqa: S506  # nosec B506
    except json.JSONDecodeError as exc:
        raise OpsError(f"invalid template {source}: line {exc.lineno}: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise OpsError(f"invalid template {source}: {where}{' '.join(problem.split())}") from exc
    if not isinstance(document, dict):
        raise OpsError(f"invalid template {source}: the top level is not a mapping")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise OpsError(f"invalid template {source}: it has no Resources section")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise OpsError(f"invalid template {source}: resource {logical_id} has no Type")
    return document


def read(path):
    """``(text, parsed)`` of the template file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise OpsError(f"no template file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"cannot read template {path}: {exc}") from exc
    return text, parse(text, str(path))


def parse_pairs(pairs, what):
    """``["K=V", ...]`` as a dict; OpsError for an item without ``=``."""
    result = {}
    for item in pairs or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OpsError(f"{what} must be Key=Value, not {item!r}")
        result[key] = value
    return result


def merge_parameters(template, overrides, existing=None):
    """CloudFormation ``Parameters`` for a change set (see the module docstring).

    ``existing`` is the list of parameter keys of the deployed stack, or None for a new stack.
    """
    declared = template.get("Parameters") or {}
    result = []
    missing = []
    for key, spec in declared.items():
        if key in overrides:
            result.append({"ParameterKey": key, "ParameterValue": str(overrides[key])})
        elif existing is not None and key in existing:
            result.append({"ParameterKey": key, "UsePreviousValue": True})
        elif isinstance(spec, dict) and "Default" in spec:
            continue  # CloudFormation applies the Default itself
        else:
            missing.append(key)
    if missing:
        names = ", ".join(missing)
        raise OpsError(
            f"missing parameter: {names} has no value and no Default "
            f"(pass --parameter-overrides {missing[0]}=...)"
        )
    return result


def effective_parameter(template, overrides, stack, key):
    """The value ``key`` would have after a change set made by ``merge_parameters``: the
    override, else the deployed stack's value (``stack`` is a DescribeStacks entry or None),
    else the template's Default; None when it has none of them."""
    if key in overrides:
        return str(overrides[key])
    for parameter in (stack or {}).get("Parameters") or []:
        if parameter["ParameterKey"] == key:
            return parameter.get("ParameterValue")
    spec = (template.get("Parameters") or {}).get(key)
    if isinstance(spec, dict) and "Default" in spec:
        return str(spec["Default"])
    return None


def to_json(template):
    """A parsed template as JSON text, as compact as stays readable."""
    return json.dumps(template, indent=1, ensure_ascii=False, default=str)


def to_compact_json(template):
    """A parsed template as the shortest JSON text: what CloudFormation reads, minus the
    comments and layout that count against its inline limit."""
    return json.dumps(template, separators=(",", ":"), ensure_ascii=False, default=str)
