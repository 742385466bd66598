"""docs/security.md stays true to the templates and the Makefile, where that can be checked.

The document is prose, but some of it is a list of facts the templates and the Makefile also
state: which IAM roles and policies exist, what each trusts and which statements (by ``Sid``)
it holds, every security-group rule, every checkov skip, who is granted each secret, the gate
commands ``make test`` runs, and the tests it cites. Each test here compares one of those lists
with its source in both directions, so adding a role, a statement, a rule, a skip or a lint
command without documenting it fails, and so does documenting something that is not there.
"""

import json
import re
from functools import cache

import pytest

from tests.support.reach import REACHES, can, identities_of
from tests.support.templates import ROOT, as_list, load, statements

DOC = ROOT / "docs" / "security.md"
MAKEFILE = ROOT / "Makefile"
# The API stack is checked through its merge fragment: what it adds (the role, log groups,
# skips) is all there, and loading it needs no `chalice package` run, so the test stays unit.
TEMPLATES = ("bootstrap-account.yaml", "bootstrap-stage.yaml", "infra.yaml", "api/merge.yaml")
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
RESOURCE_POLICY_TYPES = (
    "AWS::S3::BucketPolicy",
    "AWS::EC2::VPCEndpoint",
    "AWS::Logs::ResourcePolicy",
)


@cache
def doc():
    return DOC.read_text(encoding="utf-8")


@cache
def templates():
    return {name: load(name) for name in TEMPLATES}


def all_resources(types):
    for template in templates().values():
        for name, resource in template["Resources"].items():
            if resource["Type"] in types:
                yield name, resource


def sections():
    """``[(heading, body)]`` for every heading of level 2 or 3; a body runs to the next one."""
    found = []
    for part in re.split(r"^(?=#{2,3} )", doc(), flags=re.M):
        if part.startswith("#"):
            heading, _, body = part.partition("\n")
            found.append((heading, body))
    return found


def section_of(logical_id):
    matches = [(h, b) for h, b in sections() if f"`{logical_id}`" in h and h.startswith("### ")]
    assert len(matches) == 1, f"docs/security.md needs one ### section naming `{logical_id}`"
    return matches[0]


def table_after(header_start):
    """The rows (lists of cells) of the markdown table whose header line starts as given."""
    lines = doc().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header_start)]
    assert len(starts) == 1, f"docs/security.md needs one table headed {header_start!r}"
    rows = []
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        # A pipe inside a cell is written \| (markdown tables need it escaped).
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    assert rows, f"the table headed {header_start!r} is empty"
    return rows


def code(cell):
    """The text of the one code span in a table cell."""
    spans = re.findall(r"`([^`]+)`", cell)
    assert len(spans) == 1, cell
    return spans[0]


def text(value):
    """A name as the doc writes it: ``pets-cfn-exec-${Stage}`` is ``pets-cfn-exec-<stage>``."""
    if isinstance(value, dict):
        value = value["Fn::Sub"]
    return value.replace("${Stage}", "<stage>")


def policy_documents(resource):
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::IAM::Role":
        return [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    if resource["Type"] == "AWS::Logs::ResourcePolicy":  # a JSON string, under Fn::Sub
        return [json.loads(properties["PolicyDocument"]["Fn::Sub"])]
    if "PolicyDocument" in properties:
        return [properties["PolicyDocument"]]
    return []


# ---------------------------------------------------------------- IAM, role by role


def test_every_iam_role_and_policy_has_a_section_with_its_name():
    checked = 0
    for name, resource in all_resources(IAM_TYPES):
        heading, _ = section_of(name)
        role_name = resource["Properties"].get("RoleName")
        if role_name:
            role_name = text(role_name)
            assert f"`{role_name}`" in heading, f"{name}: the heading should name {role_name}"
        checked += 1
    assert checked >= 11, "the walk found too few roles and policies: it would prove nothing"


def test_every_policy_statement_is_named_by_its_sid_in_that_section():
    for name, resource in all_resources(IAM_TYPES):
        _, body = section_of(name)
        for policy in resource["Properties"].get("Policies", []):
            assert f"`{policy['PolicyName']}`" in body, f"{name}: {policy['PolicyName']}"
        for document in policy_documents(resource):
            for statement in statements(document):
                assert "Sid" in statement, f"{name}: give the statement a Sid to name it by"
                assert f"`{statement['Sid']}`" in body, f"{name}: statement {statement['Sid']}"


def test_every_resource_policy_and_its_statements_are_in_the_resource_policies_section():
    (body,) = [b for h, b in sections() if h == "### Resource policies"]
    for name, resource in all_resources(RESOURCE_POLICY_TYPES):
        documents = policy_documents(resource)
        if not documents:
            continue
        assert f"`{name}`" in body, name
        for statement in statements(documents[0]):
            assert f"`{statement['Sid']}`" in body, f"{name}: statement {statement['Sid']}"


def _managed_policy_names(role):
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        if "Ref" in arn:
            yield arn["Ref"]
        else:
            yield arn["Fn::Sub"].rsplit("/", 1)[1]


def test_each_role_section_names_its_attached_policies_and_whom_it_trusts():
    for name, role in all_resources(("AWS::IAM::Role",)):
        _, body = section_of(name)
        for policy in _managed_policy_names(role):
            assert f"`{policy}`" in body, f"{name}: attached policy {policy}"
        for statement in statements(role["Properties"]["AssumeRolePolicyDocument"]):
            principal = statement["Principal"]
            for service in as_list(principal.get("Service", [])):
                assert f"`{service}`" in body, f"{name}: trusted service {service}"
            if "Federated" in principal:
                conditions = statement["Condition"]
                audience = conditions["StringEquals"]["token.actions.githubusercontent.com:aud"]
                assert f"`{audience}`" in body, f"{name}: OIDC audience {audience}"
                for operator in conditions.values():
                    for subject in as_list(
                        operator.get("token.actions.githubusercontent.com:sub", [])
                    ):
                        # repo:<owner>/<repo>:<context>:job_workflow_ref:<owner>/<repo>/<file>@<ref>
                        context, workflow = text(subject).split(":job_workflow_ref:")
                        context = context.split(":", 2)[2]
                        path, ref = workflow.split("/", 2)[2].split("@")
                        for part in (context, path, ref):
                            assert f"`{part}`" in body, f"{name}: OIDC subject {subject}"


# ---------------------------------------------------------------- what each identity can reach

REACH_HEADER = "| What it can reach |"


def test_the_reach_table_is_what_aws_would_allow_the_templates_identities(account, simulator):
    """Every cell is computed: the IAM evaluator's answer for the dev identities, with both
    stages in one account (tests/support/reach.py states each question as AWS requests)."""
    (header,) = [line for line in doc().splitlines() if line.startswith(REACH_HEADER)]
    columns = [cell.strip() for cell in header.strip().strip("|").split("|")][1:]
    identities = identities_of(account, "dev")
    assert columns == [who.name for who in identities]
    documented = {row[0]: row[1:] for row in table_after(REACH_HEADER)}
    computed = {
        r.text.format(own="dev", other="prod"): [
            "yes" if can(account, simulator, who, r) else "no" for who in identities
        ]
        for r in REACHES
    }
    assert documented == computed


# ---------------------------------------------------------------- who holds each secret

SECRET_ROWS = {
    # first words of the row: (IAM action, text the granted resource contains)
    "Aurora master password": ("secretsmanager:GetSecretValue", "MasterUserSecret"),
    "API database login": ("rds-db:connect", "/pets_api_"),
    "Developer database logins": ("rds-db:connect", "/dev_*"),
    "RDS CA bundle": ("s3:GetObject", "rds-ca/"),
}


def boundaries():
    """The permissions-boundary policies: they cap the stage roles and grant nothing by
    themselves, so they hold no secret (docs/security.md says so in their section)."""
    return {
        name
        for name, resource in all_resources(("AWS::IAM::ManagedPolicy",))
        if text(resource["Properties"].get("ManagedPolicyName", "")).startswith("pets-boundary-")
    }


def holders(action, resource_text):
    found = set()
    for name, resource in all_resources(IAM_TYPES):
        if name in boundaries():
            continue
        for document in policy_documents(resource):
            for statement in statements(document):
                if statement["Effect"] != "Allow" or action not in as_list(statement["Action"]):
                    continue
                if resource_text in repr(statement["Resource"]):
                    found.add(name)
    return found


@pytest.mark.parametrize("row", sorted(SECRET_ROWS))
def test_who_is_granted_each_secret_is_exactly_what_the_templates_grant(row):
    iam_names = {name for name, _ in all_resources(IAM_TYPES)}
    (cells,) = [cells for cells in table_after("| Secret |") if cells[0].startswith(row)]
    named = set(re.findall(r"`([^`]+)`", cells[2])) & iam_names
    granted = holders(*SECRET_ROWS[row])
    assert granted, f"nothing grants {SECRET_ROWS[row]}: the row or the test is stale"
    assert named == granted, f"{row}: the doc says {sorted(named)}, the templates {sorted(granted)}"


def test_no_other_role_or_policy_may_read_a_secret_value():
    assert holders("secretsmanager:GetSecretValue", "") == {"HostRole"}


def test_every_stage_role_carries_a_boundary_the_doc_describes():
    assert boundaries() == {"StageRoleBoundary"}
    for name, role in all_resources(("AWS::IAM::Role",)):
        if "PermissionsBoundary" in role["Properties"]:
            _, body = section_of(name)
            assert "pets-boundary-<stage>" in body, name


# ---------------------------------------------------------------- network


def _port_range(rule):
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if str(rule["IpProtocol"]) == "-1" or low in (None, -1):
        return "all"
    return str(low) if low == high else f"{low}-{high}"


def _peer(rule, direction):
    for key in (f"{direction}SecurityGroupId", "CidrIp", "CidrIpv6", f"{direction}PrefixListId"):
        if key in rule:
            value = rule[key]
            return value["Ref"] if isinstance(value, dict) else value
    raise AssertionError(f"a rule with no peer: {rule}")


def template_rules(kind):
    """``(group, protocol, ports, peer)`` for every Ingress or Egress rule, inline or standalone."""
    direction = "Source" if kind == "Ingress" else "Destination"
    rules = []
    for name, resource in all_resources(
        ("AWS::EC2::SecurityGroup", f"AWS::EC2::SecurityGroup{kind}")
    ):
        properties = resource["Properties"]
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            pairs = [(name, rule) for rule in properties.get(f"SecurityGroup{kind}", [])]
        else:
            pairs = [(properties["GroupId"]["Ref"], properties)]
        for group, rule in pairs:
            protocol = "all" if str(rule["IpProtocol"]) == "-1" else str(rule["IpProtocol"])
            rules.append((group, protocol, _port_range(rule), _peer(rule, direction)))
    return sorted(rules)


@pytest.mark.parametrize(("kind", "header"), [("Ingress", "From"), ("Egress", "To")])
def test_the_security_group_rules_in_the_doc_are_exactly_the_templates(kind, header):
    table = table_after(f"| Security group | Protocol | Ports | {header} |")
    documented = sorted((code(g), p, ports, code(peer)) for g, p, ports, peer in table)
    assert documented == template_rules(kind)


def test_every_security_group_is_named_in_the_doc():
    for name, _ in all_resources(("AWS::EC2::SecurityGroup",)):
        assert f"`{name}`" in doc(), name


# ---------------------------------------------------------------- checkov skips


def test_the_checkov_skip_table_is_exactly_the_inline_skips():
    skips = sorted(
        (name, skip["id"])
        for template in templates().values()
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    )
    documented = sorted(
        (code(resource), code(check)) for resource, check, _ in table_after("| Resource | Check |")
    )
    assert documented == skips


# ---------------------------------------------------------------- gates


@cache
def make_targets():
    """``{target: (prerequisites, recipe lines)}`` from the Makefile, tools' paths removed."""
    targets = {}
    current = None
    text = MAKEFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            recipe = line.strip()
            recipe = re.sub(r"\$\((?:TOOLS_)?VENV\)/bin/", "", recipe)
            recipe = recipe.replace("$(PY)", "python")
            targets[current][1].append(recipe)
            continue
        rule = re.match(r"^([^\s:=#?]+)\s*:(?!=)([^#]*)", line)
        if rule and not rule.group(1).startswith("."):
            current = rule.group(1)
            targets[current] = (rule.group(2).split(), [])
        elif not line.startswith("\t"):
            current = None
    return targets


def reachable_from(start):
    seen, todo = set(), [start]
    while todo:
        target = todo.pop()
        if target in seen or target not in make_targets():
            continue
        seen.add(target)
        todo.extend(make_targets()[target][0])
    return seen


def gate_rows():
    return [(code(target), code(command)) for _, target, command, _ in table_after("| Gate |")]


def test_each_documented_gate_is_a_command_of_its_make_target_and_runs_in_make_test():
    in_make_test = reachable_from("test")
    for target, command in gate_rows():
        assert target in in_make_test, f"{target} does not run in `make test`"
        assert command in make_targets()[target][1], f"`{command}` is not in `make {target}`"


def test_every_command_make_test_runs_is_a_documented_gate():
    # Stamps build the venvs and node_modules; `package` builds what lint-templates checks.
    gates = {t for t in reachable_from("test") if not t.startswith("$(") and t != "package"}
    assert {"lint", "lint-security", "lint-templates", "lint-workflows", "pytest"} <= gates
    documented = set(gate_rows())
    for target in sorted(gates):
        for command in make_targets()[target][1]:
            assert (target, command) in documented, f"document `{command}` (make {target})"


# ---------------------------------------------------------------- cited tests, stated gaps


def test_every_test_the_doc_cites_exists():
    cited = re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?", doc())
    assert len(cited) >= 20, "the doc should cite the tests that guard each property"
    for path, function in cited:
        source = ROOT / path
        assert source.is_file(), path
        if function:
            assert re.search(rf"^def {function}\(", source.read_text(), re.M), f"{path}::{function}"


@pytest.mark.parametrize(
    ("claim", "evidence"),
    [
        # The gap section says there is none; adding one must update it.
        ("No WAF", r"AWS::WAFv2::|AWS::WAFRegional::"),
        ("no Lambda code signing", r"CodeSigningConfigArn"),
    ],
)
def test_a_stated_gap_is_still_a_gap(claim, evidence):
    assert claim in doc()
    for name in TEMPLATES:
        text = (ROOT / "cloudformation" / name).read_text()
        assert not re.search(evidence, text), f"{name} now has {evidence}: revise '{claim}'"
