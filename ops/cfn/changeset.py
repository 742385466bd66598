"""The planning half of a deploy: what is deployed, and which change set would bring the template.

``stack-deploy`` and ``plan`` both call ``create``; only ``stack-deploy`` goes on to
``ops.cfn.execute.execute``. So a plan shows exactly the change set a deploy would execute
(chalice's planner/executor split, ``aws cloudformation deploy --no-execute-changeset``).

Decisions made here, from the stack's current status:

* no stack, or ``REVIEW_IN_PROGRESS`` (a change set was made but never executed): CREATE;
* ``ROLLBACK_COMPLETE`` (its creation failed; CloudFormation allows nothing but deletion):
  delete it, then CREATE — the caller does the deletion and says so;
* another operation ``*_IN_PROGRESS``, or a ``*_FAILED`` state needing a human: stop with a hint;
* anything else: UPDATE.

"No changes" comes back from CloudFormation in two forms — a FAILED change set whose reason says
it contained no changes, or a ValidationError "No updates are to be performed" from
CreateChangeSet — and both become ``ChangeSet.empty``, never an error.
"""

import contextlib
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ops import report
from ops.aws.errors import NO_UPDATES, error_message, is_no_updates
from ops.cfn import broadening, stacks, templates
from ops.errors import OpsError

CHANGE_SET_TIMEOUT = 900  # seconds; SAM transforms of large templates can take minutes
CHANGE_SET_POLL = 2


class ChangeSetFailed(OpsError):
    """CloudFormation refused the change set (not a local problem with the inputs)."""


@dataclass(frozen=True)
class StackSpec:
    """Everything needed to deploy one stack: the ``stack-deploy`` flags as data."""

    name: str
    template_path: Path | None = None
    template_body: str | None = None  # a template made in memory (deploy-api's rewritten one)
    parameters: dict = field(default_factory=dict)
    capabilities: tuple = ()
    tags: dict = field(default_factory=dict)
    role_arn: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "templates"
    # The commit a stage stack is deployed from (ops.cfn.order); None for any other stack.
    commit: str | None = None
    rollback: bool = False  # the operator allows going back to a commit that is not newer
    # CloudFormation rollback triggers ({"RollbackTriggers": [...], "MonitoringTimeInMinutes": n}).
    rollback_configuration: dict | None = None
    # What a preview names but did not upload (ops.cfn.specs.artifact): the deploy uploads it.
    artifacts: tuple = ()

    def read_template(self):
        if self.template_body is not None:
            return self.template_body, templates.parse(self.template_body, self.name)
        return templates.read(self.template_path)


@dataclass
class Change:
    action: str
    logical_id: str
    resource_type: str
    replacement: str


@dataclass
class ChangeSet:
    spec: StackSpec
    change_set_type: str  # CREATE or UPDATE
    arn: str | None = None
    stack_id: str | None = None
    changes: list = field(default_factory=list)
    empty: bool = False
    reason: str = ""
    widenings: list = field(default_factory=list)  # ops.cfn.broadening.Widening

    @property
    def replacements(self):
        """Changes that delete a resource and create it anew (True, or Conditional)."""
        return [c for c in self.changes if c.replacement in ("True", "Conditional")]


def classify(stack):
    """``create``, ``update`` or ``recreate`` for a stack as ``stacks.current_stack`` returns it."""
    if stack is None:
        return "create"
    name, status = stack["StackName"], stack["StackStatus"]
    if status == "REVIEW_IN_PROGRESS":
        return "create"
    if status == "ROLLBACK_COMPLETE":
        return "recreate"
    if status.endswith("_IN_PROGRESS"):
        raise OpsError(
            f"{name} is {status}: another operation is running on it; "
            "run again when it has finished"
        )
    if status == "UPDATE_ROLLBACK_FAILED":
        raise OpsError(
            f"{name} is UPDATE_ROLLBACK_FAILED: fix the cause, then run "
            f"aws cloudformation continue-update-rollback --stack-name {name}"
        )
    if status in {"ROLLBACK_FAILED", "DELETE_FAILED"}:
        raise OpsError(
            f"{name} is {status}: delete it by hand (aws cloudformation delete-stack "
            f"--stack-name {name}, retaining what cannot be deleted) and deploy again"
        )
    return "update"


def create(ctx, spec, stack, template_text, template, purpose="deploy"):
    """Create the change set for ``spec`` against ``stack`` and wait until it is described."""
    cf = ctx.client("cloudformation")
    change_set_type = "CREATE" if classify(stack) in ("create", "recreate") else "UPDATE"
    existing = None
    if change_set_type == "UPDATE":
        existing = {p["ParameterKey"] for p in stack.get("Parameters", [])}
    parameters = templates.merge_parameters(template, spec.parameters, existing)
    request = {
        "StackName": spec.name,
        "ChangeSetName": f"ops-{purpose}-{uuid.uuid4().hex[:12]}",
        "ChangeSetType": change_set_type,
        "Parameters": parameters,
        "Description": f"python -m ops {purpose}",
        **_template_location(ctx, spec, template_text, template),
    }
    if spec.capabilities:
        request["Capabilities"] = list(spec.capabilities)
    if spec.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    if spec.role_arn:
        request["RoleARN"] = spec.role_arn
    if spec.rollback_configuration is not None:
        request["RollbackConfiguration"] = spec.rollback_configuration
    result = ChangeSet(spec=spec, change_set_type=change_set_type)
    try:
        created = cf.create_change_set(**request)
    except Exception as exc:
        if is_no_updates(exc):
            result.empty, result.reason = True, error_message(exc)
            return result
        raise
    result.arn, result.stack_id = created["Id"], created["StackId"]
    described = _wait_until_created(ctx, cf, result.arn)
    if described["Status"] == "FAILED":
        reason = " ".join(described.get("StatusReason", "").split())
        _delete_quietly(cf, result.arn)
        if any(text in reason for text in NO_UPDATES):
            result.empty, result.reason, result.arn = True, reason, None
            return result
        raise ChangeSetFailed(f"the change set for {spec.name} failed: {reason}")
    result.changes = changes_of(cf, result.arn, described)
    deployed = stacks.deployed_template(cf, spec.name) if change_set_type == "UPDATE" else None
    result.widenings = broadening.find(deployed, template)
    return result


def delete(ctx, change_set):
    """Delete a change set that will not be executed (plan)."""
    if change_set.arn:
        _delete_quietly(ctx.client("cloudformation"), change_set.arn)


COLUMNS = ("Action", "Logical ID", "Type", "Replacement")


def text_table(change_set):
    rows = [(c.action, c.logical_id, c.resource_type, c.replacement) for c in change_set.changes]
    table = report.text_table(COLUMNS, rows) if rows else "(no resource changes)"
    return "\n".join([*_warnings(change_set, lambda text: text.replace("`", "")), table])


def markdown(change_set, title=None):
    title = title or f"Change set for `{change_set.spec.name}` ({change_set.change_set_type})"
    if change_set.empty:
        return f"### {title}\n\nNo changes: the stack already matches the template."
    rows = [
        (c.action, f"`{c.logical_id}`", c.resource_type, c.replacement) for c in change_set.changes
    ]
    body = report.markdown_table(COLUMNS, rows) if rows else "No resource changes."
    warnings = "".join(f"> {line}\n>\n" for line in _warnings(change_set, report.cell))
    return f"### {title}\n\n" + (warnings.rstrip(">\n") + "\n\n" if warnings else "") + body


def _warnings(change_set, shown):
    """The lines a reviewer must not miss, before the table: replacements, then widenings."""
    lines = []
    if change_set.replacements:
        names = ", ".join(f"`{c.logical_id}` ({c.replacement})" for c in change_set.replacements)
        lines.append(f"**REPLACES** (deletes and creates anew): {shown(names)}")
    if change_set.widenings:
        lines.append(
            f"**WIDENS PERMISSIONS** ({len(change_set.widenings)}): "
            + "; ".join(shown(w.line()) for w in change_set.widenings)
        )
    return lines


def _template_location(ctx, spec, text, template):
    body = text.encode("utf-8")
    if len(body) <= templates.MAX_TEMPLATE_BODY:
        return {"TemplateBody": text}
    # Comments and indentation count against the limit too; the same template as compact JSON
    # often fits inline, which needs no bucket (the bootstrap stacks have none to upload to).
    compact = templates.to_compact_json(template)
    if len(compact.encode("utf-8")) <= templates.MAX_TEMPLATE_BODY:
        return {"TemplateBody": compact}
    if not spec.s3_bucket:
        raise OpsError(
            f"the template for {spec.name} is {len(body):,} bytes, over CloudFormation's "
            f"{templates.MAX_TEMPLATE_BODY:,}-byte inline limit: pass --s3-bucket "
            "(the bootstrap stack's ArtifactsBucket) to upload it"
        )
    digest = hashlib.sha256(body).hexdigest()
    key = f"{spec.s3_prefix.strip('/')}/{spec.name}/{digest}.template"
    s3 = ctx.client("s3")
    s3.put_object(Bucket=spec.s3_bucket, Key=key, Body=body)
    ctx.say(f"uploaded the template ({len(body):,} bytes) to s3://{spec.s3_bucket}/{key}")
    return {"TemplateURL": s3_url(s3, spec.s3_bucket, key)}


def s3_url(s3, bucket, key):
    """A path-style HTTPS URL CloudFormation can read the object from (as the AWS CLI builds).

    Against an emulator (AWS_ENDPOINT_URL) the regional AWS form is used: moto and LocalStack
    resolve it to their own S3, while their own address would not parse as an S3 URL.
    """
    endpoint = s3.meta.endpoint_url.rstrip("/")
    if "amazonaws.com" not in endpoint:
        endpoint = f"https://s3.{s3.meta.region_name}.amazonaws.com"
    return f"{endpoint}/{bucket}/{key}"


def _wait_until_created(ctx, cf, arn):
    waited = 0
    while True:
        described = cf.describe_change_set(ChangeSetName=arn)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if waited >= CHANGE_SET_TIMEOUT:
            raise OpsError(f"the change set {arn} was not ready after {CHANGE_SET_TIMEOUT} s")
        ctx.sleep(CHANGE_SET_POLL)
        waited += CHANGE_SET_POLL


def changes_of(cf, arn, first_page):
    """The resource changes of a described change set, every page."""
    page, changes = first_page, []
    while True:
        for change in page.get("Changes", []):
            if change.get("Type", "Resource") != "Resource":
                continue
            rc = change["ResourceChange"]
            action = rc.get("Action", "?")
            replacement = rc.get("Replacement") if action == "Modify" else None
            changes.append(
                Change(
                    action=action,
                    logical_id=rc.get("LogicalResourceId", "?"),
                    resource_type=rc.get("ResourceType", "?"),
                    replacement=replacement or "-",
                )
            )
        token = page.get("NextToken")
        if not token:
            return changes
        page = cf.describe_change_set(ChangeSetName=arn, NextToken=token)


def _delete_quietly(cf, arn):
    # Tidying up only: a leftover change set harms nothing, so no failure here may mask the result.
    with contextlib.suppress(Exception):
        cf.delete_change_set(ChangeSetName=arn)
