"""Read the workflows, the Makefile and the CloudFormation templates the way GitHub and AWS do.

The workflow tests share these helpers:

* ``load_workflow`` parses a workflow with PyYAML, putting back the ``on`` key that YAML 1.1
  reads as the boolean ``True``, and remembers its file (``workflow["_path"]``) so a reusable
  workflow's ``inputs`` can be traced to the jobs that call it (``callers``).
* ``evaluate`` is a small evaluator for the GitHub expressions used in ``if:`` (literals,
  ``vars.X``/``github.x.y``/``inputs.x``/``needs.j.result`` look-ups, ``==``, ``!=``, ``!``,
  ``&&``, ``||``, parentheses and the status functions, with GitHub's loose string comparison),
  so the tests can check what a condition *does* for a fork, an unconfigured repository, a
  push, a dispatch or a failed dependency, not how it is spelled. A condition without a status
  function gets GitHub's implicit ``success()`` (every job it needs succeeded).
* ``load_template`` parses CloudFormation YAML, turning short tags (``!Sub``, ``!GetAtt`` ...)
  into their ``Fn::`` long forms; ``resolve_sub`` reduces a trust-policy subject to text with
  ``<Owner>``/``<Repo>`` standing for the bootstrap parameters.
"""

import json
import re
from pathlib import Path

import yaml

from ops.cfn import templates

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
CONFIGURE_AWS = "aws-actions/configure-aws-credentials"


# ------------------------------------------------------------------------------- workflows
def workflow_files():
    return sorted(WORKFLOW_DIR.glob("*.yml")) + sorted(WORKFLOW_DIR.glob("*.yaml"))


def load_workflow(path):
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1: a bare `on` key is the boolean true
        data["on"] = data.pop(True)
    data["_path"] = Path(path)
    return data


def called_workflow(job):
    """The file of this repository's reusable workflow the job calls, or None."""
    uses = str(job.get("uses", ""))
    return ROOT / uses.removeprefix("./") if uses.startswith("./.github/workflows/") else None


def is_reusable(workflow):
    return set(triggers(workflow)) == {"workflow_call"}


def callers(workflow):
    """``[(caller workflow, job)]`` for every job of every workflow that calls ``workflow``."""
    found = []
    for path in workflow_files():
        caller = load_workflow(path)
        for job in caller["jobs"].values():
            if called_workflow(job) == workflow["_path"]:
                found.append((caller, job))
    return found


def triggers(workflow):
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def steps(job):
    return job.get("steps") or []


def role_step(job):
    """The configure-aws-credentials step of ``job``, or None."""
    for step in steps(job):
        if str(step.get("uses", "")).startswith(CONFIGURE_AWS + "@"):
            return step
    return None


def role_steps(job):
    """Every configure-aws-credentials step of ``job`` (a job may assume its role again)."""
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(CONFIGURE_AWS + "@")]


# A role comes from a repository or environment variable, named outright (AWS_DEPLOY_ROLE_ARN,
# set per environment) or per stage (AWS_<STAGE>_PATCH_ROLE_ARN, looked up with format()).
_ROLE_VARIABLE = re.compile(r"^\$\{\{ vars\.AWS_(?P<kind>[A-Z]+)_ROLE_ARN \}\}$")
_STAGE_ROLE_VARIABLE = re.compile(
    r"^\$\{\{ vars\[format\('AWS_\{0\}_(?P<kind>[A-Z]+)_ROLE_ARN', inputs\.stage\)\] \}\}$"
)
STAGE_REGION = "${{ vars[format('AWS_{0}_REGION', inputs.stage)] }}"


def role_variable(step):
    """``(kind, per_stage)`` of the role a configure-aws-credentials step assumes: ("deploy",
    False) for ``vars.AWS_DEPLOY_ROLE_ARN``, ("patch", True) for the stage's patch role."""
    role = str(step["with"]["role-to-assume"])
    if match := _ROLE_VARIABLE.match(role):
        return match.group("kind").lower(), False
    if match := _STAGE_ROLE_VARIABLE.match(role):
        return match.group("kind").lower(), True
    raise AssertionError(f"role-to-assume is not a role variable: {role!r}")


def run_lines(step):
    """The commands of a ``run:`` step, one per line, with backslash continuations joined."""
    text = re.sub(r"\\\n\s*", " ", step.get("run", ""))
    return [line.strip() for line in text.splitlines() if line.strip()]


def commands(job):
    """Every line of every ``run:`` step of ``job``, in order."""
    return [line for step in steps(job) for line in run_lines(step)]


def job_permissions(workflow, job):
    return job.get("permissions", workflow.get("permissions"))


def has_id_token(workflow, job):
    perms = job_permissions(workflow, job)
    if perms == "write-all":
        return True
    return isinstance(perms, dict) and perms.get("id-token") == "write"


def environment_name(job):
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    return env


_EXPR = re.compile(r"^\$\{\{\s*(.*?)\s*\}\}$", re.DOTALL)


def possible_values(workflow, job, text):
    """Every value ``text`` can take: itself when literal; for ``${{ a || 'b' }}`` the dispatch
    input's options, matrix values and literals named by each alternative."""
    match = _EXPR.match(str(text))
    if not match:
        return [text]
    values = []
    dispatch = triggers(workflow).get("workflow_dispatch") or {}
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    for part in (p.strip() for p in match.group(1).split("||")):
        if part[:1] == part[-1:] == "'":
            values.append(part[1:-1])
        elif (m := re.fullmatch(r"inputs\.([\w-]+)", part)) and is_reusable(workflow):
            for caller, caller_job in callers(workflow):
                given = (caller_job.get("with") or {})[m.group(1)]
                values += possible_values(caller, caller_job, given)
        elif m := re.fullmatch(r"(?:github\.event\.)?inputs\.([\w-]+)", part):
            values += list(
                ((dispatch.get("inputs") or {}).get(m.group(1)) or {}).get("options", [])
            )
        elif m := re.fullmatch(r"matrix\.([\w-]+)", part):
            values += _matrix_values(dispatch, matrix.get(m.group(1), []))
        else:
            raise AssertionError(f"cannot tell which values {text!r} takes")
    return values


def _matrix_values(dispatch, axis):
    """A matrix axis: a list, or an expression such as ``fromJSON(github.event_name ==
    'schedule' && '["dev", "prod"]' || format('["{0}"]', inputs.x))``, whose values are the
    JSON list literals it contains and the options of the inputs it names."""
    if isinstance(axis, list):
        return axis
    values = []
    for literal in re.findall(r"'(\[[^']*\])'", axis):
        if not re.search(r"\{\d+\}", literal):  # skip format() templates such as '["{0}"]'
            values += json.loads(literal)
    for name in re.findall(r"inputs\.([\w-]+)", axis):
        values += list(((dispatch.get("inputs") or {}).get(name) or {}).get("options", []))
    if not values:
        raise AssertionError(f"cannot tell which values the matrix axis {axis!r} takes")
    return values


# ------------------------------------------------------------------------------ expressions
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<word>[A-Za-z_][\w.-]*))"
)


_STATUS = ("success", "failure", "cancelled", "always")
_STATUS_CALL = re.compile(r"\b(?:" + "|".join(_STATUS) + r")\(\)")


def evaluate(expression, contexts):
    """Evaluate a GitHub ``if:`` expression against ``contexts`` ({"github": {...}, ...}).

    ``contexts["needs"]`` ({job: {"result": ...}}) decides the status functions: success() when
    every needed job succeeded, failure() when one failed; the run is never cancelled here."""
    text = str(expression).strip()
    if match := _EXPR.match(text):
        text = match.group(1)
    if not _STATUS_CALL.search(text):
        text = f"success() && ({text})"
    return _truthy(expression_value(text, contexts))


def expression_value(expression, contexts):
    """The value of a ``${{ }}`` expression (or its inside), such as a concurrency group's."""
    text = str(expression).strip()
    if match := _EXPR.match(text):
        text = match.group(1)
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise AssertionError(f"unsupported expression syntax at {text[pos:]!r}")
        tokens.append(match)
        pos = match.end()
    parser = _Parser(tokens, contexts)
    value = parser.parse_or()
    if parser.pos != len(tokens):
        raise AssertionError(f"trailing tokens in {expression!r}")
    return value


class _Parser:
    def __init__(self, tokens, contexts):
        self.tokens, self.pos, self.contexts = tokens, 0, contexts

    def _peek(self):
        return self.tokens[self.pos].group("op") if self.pos < len(self.tokens) else None

    def _status(self, function):
        # A needed job whose result the test leaves out succeeded.
        needs = (self.contexts.get("needs") or {}).values()
        results = [job.get("result", "success") for job in needs]
        return {
            "success": all(r == "success" for r in results),
            "failure": any(r == "failure" for r in results),
            "cancelled": False,
            "always": True,
        }[function]

    def parse_or(self):
        left = self.parse_and()
        while self._peek() == "||":
            self.pos += 1
            right = self.parse_and()
            left = left if _truthy(left) else right
        return left

    def parse_and(self):
        left = self.parse_cmp()
        while self._peek() == "&&":
            self.pos += 1
            right = self.parse_cmp()
            left = right if _truthy(left) else left
        return left

    def parse_cmp(self):
        left = self.parse_unary()
        while self._peek() in ("==", "!="):
            op = self._peek()
            self.pos += 1
            right = self.parse_unary()
            equal = _loose(left) == _loose(right)
            left = equal if op == "==" else not equal
        return left

    def parse_unary(self):
        if self._peek() == "!":
            self.pos += 1
            return not _truthy(self.parse_unary())
        if self._peek() == "(":
            self.pos += 1
            value = self.parse_or()
            assert self._peek() == ")", "unbalanced parentheses"
            self.pos += 1
            return value
        token = self.tokens[self.pos]
        self.pos += 1
        if token.group("str") is not None:
            return token.group("str")[1:-1].replace("''", "'")
        word = token.group("word")
        if word in _STATUS and self._peek() == "(":
            assert self.tokens[self.pos + 1].group("op") == ")", f"{word}() takes no argument"
            self.pos += 2
            return self._status(word)
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        value = self.contexts
        for part in word.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def _truthy(value):
    return value not in (None, False, "", 0)


def _loose(value):
    """GitHub compares strings case-insensitively and treats a missing value as ''."""
    if value is None:
        return ""
    return value.lower() if isinstance(value, str) else value


# ------------------------------------------------------------------------------ Makefile
def make_targets(path=ROOT / "Makefile"):
    """``{target: [recipe lines]}`` for the Makefile's explicit targets."""
    targets, current = {}, None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^([a-z][\w-]*):(?!=)", line):
            current = targets.setdefault(match.group(1), [])
        elif line.startswith("\t") and current is not None:
            current.append(line.strip())
        elif line and not line.startswith("#"):
            current = None
    return targets


# ----------------------------------------------------------------------------- templates
def load_template(path):
    """A CloudFormation template, short-form tags included, read as ops reads it."""
    return templates.read(path)[1]


PLACEHOLDERS = {"GitHubOrg": "<Owner>", "GitHubRepo": "<Repo>"}


def resolve_sub(value, variables=None):
    """Text of a trust-policy value with the GitHub parameters shown as <Owner>/<Repo>."""
    variables = {**PLACEHOLDERS, **(variables or {})}
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        body = value["Fn::Sub"]
        if isinstance(body, list):
            body, extra = body
            variables.update({k: resolve_sub(v) for k, v in extra.items()})
        return re.sub(
            r"\$\{([\w:.]+)\}", lambda m: str(variables.get(m.group(1), m.group(0))), body
        )
    if isinstance(value, dict) and "Ref" in value:
        return variables.get(value["Ref"], "${" + value["Ref"] + "}")
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve_sub(p, variables) for p in parts)
    raise AssertionError(f"cannot read trust-policy value {value!r}")


def oidc_trust(template):
    """``{role logical id: {"equals": {key: [values]}, "like": {key: [values]}}}`` for every
    role that GitHub's OIDC provider may assume."""
    roles = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        document = (resource.get("Properties") or {}).get("AssumeRolePolicyDocument") or {}
        statements = document.get("Statement") or []
        statements = statements if isinstance(statements, list) else [statements]
        for statement in statements:
            actions = statement.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            if "sts:AssumeRoleWithWebIdentity" not in actions:
                continue
            found = roles.setdefault(logical_id, {"equals": {}, "like": {}})
            for operator, slot in (("StringEquals", "equals"), ("StringLike", "like")):
                for key, value in ((statement.get("Condition") or {}).get(operator) or {}).items():
                    values = value if isinstance(value, list) else [value]
                    found[slot].setdefault(key, []).extend(resolve_sub(v) for v in values)
    return roles


def output_role(template, output):
    """The logical id of the role whose ARN the bootstrap output ``output`` exports."""
    value = ((template.get("Outputs") or {}).get(output) or {}).get("Value")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", f"{output} exports {attribute}, not the role's Arn"
        return logical_id
    raise AssertionError(f"bootstrap output {output} is missing or not !GetAtt <Role>.Arn")
