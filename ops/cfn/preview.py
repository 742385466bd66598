"""Preview a stage's change sets, keep them, and later execute exactly those, by ARN.

``preview`` makes the change set of every stack of the stage, in deploy order, as a deploy would
(``ops.cfn.specs``: the same uploads, parameters, commit, role and rollback triggers), prints
them with their replacements and widened permissions, and keeps them. It writes a file (JSON, the
artifact a later job downloads) naming each change set's ARN and the state of the stack it was
made against: the stack's id, status and last update time.

``execute`` takes that file and one stack of it (infra, then, after the migrations, api) and
executes that change set by its ARN, never a change set of the same name made since. It refuses
in one line, changing nothing, when:

* the change set is not AVAILABLE any more: OBSOLETE (the stack was updated since, by another
  change set or by hand), already executed or failed, or gone (executing any change set of a stack
  deletes its others);
* the stack's last update is not the one recorded (the same thing, seen from the stack);
* the file is of another stage or commit than the one being deployed;
* the stack could not be previewed (it depended on changes of a stack before it that were not
  deployed yet: preview again once they are).

The preview uploads nothing a host or function reads (its role writes ``plan/`` only): the
change sets name this build's content-addressed keys, and the file lists each with its SHA-256
and where the deploy finds the same bytes. ``execute`` uploads them (skipping what the bucket
already holds with that checksum) before it executes, and refuses in one line, executing nothing,
when this build's bytes differ from the previewed ones or a key (the version pinned, if any) does
not hold them afterwards.

A re-run of a deploy whose change set was already executed, and is what the stack last ran, is
"already done" and succeeds. The JSON file holds ARNs, names, times, keys and checksums, and the
public RDS CA bundle; nothing secret.
"""

import base64
import hashlib
import json
from pathlib import Path

from ops import report, stages
from ops.aws.errors import error_code
from ops.cfn import artifacts, changeset, order, specs
from ops.cfn.changeset import ChangeSet, StackSpec
from ops.cfn.execute import POLL_SECONDS, execute_change_set, print_outputs
from ops.cfn.stacks import current_stack, outputs_of
from ops.errors import OpsError

FORMAT = 1
PARTS = ("infra", "api")


def add_from_argument(parser):
    """``--from PREVIEW`` of deploy-infra and deploy-api (``args.preview``)."""
    parser.add_argument(
        "--from",
        dest="preview",
        type=Path,
        metavar="PREVIEW",
        help=(
            "execute the change set python -m ops preview recorded in this file, by its ARN, "
            "after uploading this build's artifacts it names (refused if the stack changed "
            "since, or if the bucket does not then hold the previewed bytes)"
        ),
    )


def stack_state(stack):
    """What must not change between a preview and its execution; None for no stack."""
    if stack is None:
        return None
    updated = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    return {
        "stack_id": stack["StackId"],
        "status": stack["StackStatus"],
        "last_updated": updated.isoformat() if hasattr(updated, "isoformat") else str(updated),
    }


def preview(ctx, stage, commit, sources, rollback=False, root=stages.ROOT):
    """Create and keep the stage's change sets; return ``(record, markdown report)``."""
    cf = ctx.client("cloudformation")
    record = {"format": FORMAT, "stage": stage, "commit": commit, "stacks": []}
    sections, earlier_changes = [], False
    for target in stages.stacks(stage, root):
        stack = current_stack(cf, target.name)
        order.check(ctx, stack, commit, rollback)
        if changeset.classify(stack) == "recreate":
            raise OpsError(
                f"{target.name} is in ROLLBACK_COMPLETE (its creation failed): deploy it without "
                f"a preview (make deploy-{target.part}), which deletes and re-creates it"
            )
        if target.part == "infra":
            spec = specs.infra(
                ctx, stage, commit, rollback, root=root, bucket=sources.bucket, upload=False
            )
        else:
            spec = specs.api(ctx, stage, commit, sources, rollback, upload=False)
        entry = {"part": target.part, "stack": target.name, "state": stack_state(stack)}
        text, template = spec.read_template()
        ctx.say(f"preview: creating a change set for {target.name}")
        try:
            cs = changeset.create(ctx, spec, stack, text, template, purpose="preview")
        except changeset.ChangeSetFailed as exc:
            if not earlier_changes:
                raise
            entry["blocked"] = str(exc)
            record["stacks"].append(entry)
            sections.append(
                f"### `{target.name}`: cannot be previewed yet\n\nIt depends on the changes "
                f"above, which are not deployed yet: {report.cell(exc)}"
            )
            continue
        entry.update(
            change_set=cs.arn,
            type=cs.change_set_type,
            empty=cs.empty,
            stack_id=cs.stack_id,
            artifacts=list(spec.artifacts),
        )
        if cs.empty:
            sections.append(f"### `{target.name}`: no changes")
        else:
            # CreateChangeSet of a new stack creates it (REVIEW_IN_PROGRESS): that is the state.
            entry["state"] = stack_state(current_stack(cf, target.name))
            verb = "create" if cs.change_set_type == "CREATE" else "update"
            title = f"`{target.name}`: {verb}, {len(cs.changes)} change(s)"
            sections.append(changeset.markdown(cs, title=title))
            earlier_changes = True
        record["stacks"].append(entry)
    header = (
        f"## Preview of stage `{stage}` at `{commit[:12]}`\n\n"
        "These change sets are kept: the deploy executes exactly them, and refuses if a stack "
        "changes before it does."
    )
    return record, "\n\n".join([header, *sections]) + "\n"


def write(record, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def read(path, stage, part, commit):
    """The entry for ``part`` in the preview file ``path``; OpsError for anything unusable."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OpsError(f"cannot read the preview {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise OpsError(f"the preview {path} is not JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise OpsError(f"{path} is not a preview written by python -m ops preview")
    if record.get("stage") != stage:
        raise OpsError(f"{path} previews stage {record.get('stage')!r}, not {stage!r}")
    if record.get("commit") != commit:
        raise OpsError(
            f"{path} previews commit {str(record.get('commit'))[:12]}, but this checkout is "
            f"{commit[:12]}: preview this commit"
        )
    entries = [e for e in record.get("stacks") or [] if isinstance(e, dict)]
    entry = next((e for e in entries if e.get("part") == part), None)
    if entry is None or entry.get("stack") != stages.stack_name(stage, part):
        raise OpsError(f"{path} has no preview of {stages.stack_name(stage, part)}")
    return entry


def execute(ctx, stage, part, path, commit, poll=POLL_SECONDS, package_dir=None, root=stages.ROOT):
    """Execute the change set ``path`` recorded for ``part`` of ``stage``; return the outputs.

    First the artifacts the change set names are uploaded (the preview only named them) from
    this build: the repository at ``root``, the package in ``package_dir``.
    """
    entry = read(path, stage, part, commit)
    name = entry["stack"]
    if entry.get("blocked"):
        raise OpsError(
            f"{name} was not previewed (it depended on changes not deployed then: "
            f"{entry['blocked']}): preview again now that they are"
        )
    cf = ctx.client("cloudformation")
    stack = current_stack(cf, name)
    if entry.get("empty"):
        _same_state(name, entry, stack)
        ctx.say(f"no changes: {name} already matched the preview of {commit[:12]}")
        outputs = outputs_of(stack)
        print_outputs(ctx, name, outputs)
        return outputs
    arn = entry["change_set"]
    try:
        described = cf.describe_change_set(ChangeSetName=arn)
    except Exception as exc:
        if error_code(exc) == "ChangeSetNotFound":
            raise OpsError(
                f"the previewed change set of {name} no longer exists (executing or deleting "
                "another change set of the stack removes it): preview again"
            ) from exc
        raise
    status = described.get("ExecutionStatus")
    if status == "EXECUTE_COMPLETE" and stack and stack.get("ChangeSetId") == arn:
        ctx.say(f"{name}: the previewed change set was executed already; nothing to do")
        outputs = outputs_of(stack)
        print_outputs(ctx, name, outputs)
        return outputs
    if status != "AVAILABLE":
        why = {
            "OBSOLETE": "the stack was updated after the preview",
            "EXECUTE_COMPLETE": "it was executed, and the stack changed since",
            "EXECUTE_FAILED": "its execution failed and was rolled back",
            "EXECUTE_IN_PROGRESS": "it is being executed right now",
        }.get(status, "it cannot be executed")
        raise OpsError(
            f"the previewed change set of {name} is {status}: {why}; preview again and approve "
            "what it shows"
        )
    _same_state(name, entry, stack)
    upload_named(ctx, name, entry.get("artifacts") or [], package_dir, root)
    changes = changeset.changes_of(cf, arn, described)
    change_set = ChangeSet(
        spec=StackSpec(name=name),
        change_set_type=entry.get("type", "UPDATE"),
        arn=arn,
        stack_id=entry.get("stack_id") or described.get("StackId"),
        changes=changes,
    )
    ctx.say(f"executing the change set previewed for {name} at {commit[:12]}: {arn}")
    ctx.say(changeset.text_table(change_set))
    return execute_change_set(ctx, change_set, poll)


def upload_named(ctx, name, named, package_dir, root):
    """Upload each artifact the preview named, from this build, then check that each key (the
    version the change set pins, when it pins one) holds this build's bytes; OpsError if not."""
    found = []
    for item in named:
        data = _bytes(item, package_dir, root)
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            raise OpsError(
                f"{item['label']} of this build is not the one previewed for {name} (SHA-256 "
                f"{item['sha256'][:12]}): preview this build again"
            )
        version = artifacts.put_if_absent(ctx, item["bucket"], item["key"], data, item["label"])
        # put_if_absent leaves the key holding these bytes; only a pinned older version is
        # left to check.
        if item.get("version") not in (None, version):
            found.append((item, data))
    for item, data in found:
        if not artifacts.holds(ctx, item["bucket"], item["key"], data, item.get("version")):
            pinned = f" version {item['version']}" if item.get("version") else ""
            raise OpsError(
                f"s3://{item['bucket']}/{item['key']}{pinned} does not hold this build's "
                f"{item['label']} (SHA-256 {item['sha256'][:12]}): {name} not executed"
            )


def _bytes(item, package_dir, root):
    kind, _, where = item["source"].partition(":")
    if kind == "inline":
        return base64.b64decode(item["content"])
    base = {"repository": Path(root), "package": Path(package_dir or Path(root) / "build" / "api")}
    if kind not in base:
        raise OpsError(f"the preview names {item['key']} from an unknown source {item['source']!r}")
    path = base[kind] / where
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OpsError(
            f"{path} is missing ({exc.strerror}): the deploy needs the build that was previewed"
        ) from exc


def _same_state(name, entry, stack):
    now = stack_state(stack)
    then = entry.get("state")
    if now != then:
        when = (then or {}).get("last_updated", "no stack")
        seen = (now or {}).get("last_updated", "no stack")
        raise OpsError(
            f"{name} changed after the preview (previewed at its update of {when}, now "
            f"{(now or {}).get('status', 'gone')} of {seen}): preview again and approve what it "
            "shows"
        )
