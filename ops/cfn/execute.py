"""The executing half of a deploy: run a change set or a deletion and follow it to the end.

Following a stack (rain's ``ui/stack.go`` and SAM's ``deployer.py`` show the way):

* only events that are new are printed — the newest event seen before the operation is the
  marker, and each poll reads pages of DescribeStackEvents (newest first) until it reaches an
  EventId already seen, then prints what it found oldest first;
* a progress line counts the resources pending, in progress and complete (and failed). On a
  terminal it is redrawn in place; in a CI log it is printed when a count changes, and again
  after each minute without change (a database being created takes many), so the log shows
  the deploy is still alive;
* at a terminal state the outputs are printed, or, on failure, the failing resources with their
  reasons, root cause first: the earliest failure that is not a cascade ("Resource creation
  cancelled") or the stack's own summary ("The following resource(s) failed ...").

``sleep`` comes from the context, so tests follow a stack without waiting.
"""

from dataclasses import dataclass, field

from ops import report
from ops.aws.errors import is_missing_stack
from ops.cfn.stacks import current_stack, outputs_of
from ops.errors import OpsError

POLL_SECONDS = 5
START_GRACE = 60  # seconds to wait for the first event of an operation (see follow)
OK_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"}
CASCADE_MARKERS = (
    "cancelled",
    "canceled",
    "The following resource(s) failed",
    "Resource update cancelled",
)


def is_terminal(status):
    return not status.endswith("_IN_PROGRESS")


@dataclass
class Follower:
    """Prints the events of one stack operation and keeps the counts for the progress line."""

    ctx: object
    cf: object
    stack_id: str
    stack_name: str
    expected: set = field(default_factory=set)  # logical ids the change set touches
    seen_ids: set = field(default_factory=set)
    events: list = field(default_factory=list)  # new events, oldest first
    latest: dict = field(default_factory=dict)  # logical id -> latest status
    _last_line: str = ""
    _live: bool = False
    _heartbeat: object = None

    def __post_init__(self):
        isatty = getattr(getattr(self.ctx, "out", None), "isatty", None)
        self._live = bool(isatty and isatty())
        if self.ctx is not None:
            self._heartbeat = report.Heartbeat(self.ctx)

    def mark(self):
        """Remember the events that already exist, so that only later ones are shown."""
        try:
            page = self.cf.describe_stack_events(StackName=self.stack_id)
        except Exception as exc:
            if is_missing_stack(exc):
                return
            raise
        self.seen_ids.update(e["EventId"] for e in page.get("StackEvents", []))

    def poll(self, status):
        new = []
        token = None
        while True:
            kwargs = {"StackName": self.stack_id}
            if token:
                kwargs["NextToken"] = token
            page = self.cf.describe_stack_events(**kwargs)
            reached_seen = False
            for event in page.get("StackEvents", []):
                if event["EventId"] in self.seen_ids:
                    reached_seen = True
                    break
                new.append(event)
            token = page.get("NextToken")
            if reached_seen or not token:
                break
        new.reverse()
        for event in new:
            self.seen_ids.add(event["EventId"])
            self.events.append(event)
            if not self._is_stack_event(event):
                self.latest[event["LogicalResourceId"]] = event["ResourceStatus"]
            self._print_event(event)
        self._progress(status)

    def _is_stack_event(self, event):
        return event.get("ResourceType") == "AWS::CloudFormation::Stack" and (
            event.get("PhysicalResourceId") == self.stack_id
            or event.get("LogicalResourceId") == self.stack_name
        )

    def counts(self):
        known = set(self.expected) | set(self.latest)
        pending = len([r for r in known if r not in self.latest])
        running = len([s for s in self.latest.values() if s.endswith("_IN_PROGRESS")])
        failed = len([s for s in self.latest.values() if s.endswith("_FAILED")])
        done = len(self.latest) - running - failed
        return pending, running, done, failed

    def _progress(self, status):
        pending, running, done, failed = self.counts()
        line = (
            f"  [{self.stack_name}] {status}: {pending} pending, {running} in progress, "
            f"{done} complete" + (f", {failed} failed" if failed else "")
        )
        if self._live:
            self.ctx.out.write("\r\033[K" + line)
            self.ctx.out.flush()
        elif line != self._last_line:
            self.ctx.say(line)
            self._heartbeat.changed()
        else:
            self._heartbeat.beat(line.replace("] ", "] still ", 1))
        self._last_line = line

    def _print_event(self, event):
        if self._live:
            self.ctx.out.write("\r\033[K")
        stamp = event.get("Timestamp")
        when = stamp.strftime("%H:%M:%S") if hasattr(stamp, "strftime") else str(stamp or "")
        reason = " ".join(str(event.get("ResourceStatusReason") or "").split())
        line = (
            f"  {when}  {event['ResourceStatus']:<36} {event.get('ResourceType', ''):<34} "
            f"{event['LogicalResourceId']}"
        )
        self.ctx.say(line + (f"  ({reason})" if reason else ""))

    def finish(self):
        if self._live:
            self.ctx.out.write("\n")
            self.ctx.out.flush()

    def failures(self):
        """``(logical id, type, reason)`` of failed resources, root cause first."""
        failed = [
            e
            for e in self.events
            if e["ResourceStatus"].endswith("_FAILED") and e.get("ResourceStatusReason")
        ]
        own = [e for e in failed if not self._is_stack_event(e)]
        causes = [e for e in own if not _is_cascade(e["ResourceStatusReason"])]
        cascades = [e for e in own if _is_cascade(e["ResourceStatusReason"])]
        stack_level = [e for e in failed if self._is_stack_event(e)]
        ordered = causes + cascades + stack_level
        return [
            (e["LogicalResourceId"], e.get("ResourceType", ""), e["ResourceStatusReason"])
            for e in ordered
        ]


def earlier_root_cause(cf, stack):
    """The root cause recorded in a stack's latest events (why it is in ROLLBACK_COMPLETE)."""
    follower = Follower(None, cf, stack["StackId"], stack["StackName"])
    try:
        page = cf.describe_stack_events(StackName=stack["StackId"])
    except Exception:  # noqa: BLE001 -- only an explanation; the recovery goes on without it
        return None
    follower.events = list(reversed(page.get("StackEvents", [])))
    failures = follower.failures()
    if not failures:
        return None
    logical_id, _, reason = failures[0]
    return f"{logical_id}: {' '.join(reason.split())}"


def _is_cascade(reason):
    return any(marker in reason for marker in CASCADE_MARKERS)


def follow(ctx, follower, poll=POLL_SECONDS):
    """Poll until the stack reaches a terminal state; return its last DescribeStacks entry.

    ExecuteChangeSet and DeleteStack return before the operation starts, so for a moment the
    stack still shows the terminal state it was in before. A terminal state therefore counts
    only once a new event shows the operation began (or after ``START_GRACE`` seconds without
    one, when the status is taken as it is). A stack that no longer exists is DELETE_COMPLETE.
    """
    waited = 0
    while True:
        stack = current_stack(follower.cf, follower.stack_id)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if stack is not None:
            follower.poll(status)
        started = bool(follower.events) or stack is None or waited >= START_GRACE
        if is_terminal(status) and started:
            follower.finish()
            return stack or {"StackName": follower.stack_name, "StackStatus": status}
        ctx.sleep(poll)
        waited += poll


def execute_change_set(ctx, change_set, poll=POLL_SECONDS):
    """Execute a created change set, follow it, and return the stack's outputs as a dict."""
    cf = ctx.client("cloudformation")
    name = change_set.spec.name
    follower = Follower(
        ctx,
        cf,
        change_set.stack_id,
        name,
        expected={c.logical_id for c in change_set.changes},
    )
    follower.mark()
    ctx.say(f"executing {change_set.change_set_type.lower()} of {name}")
    cf.execute_change_set(ChangeSetName=change_set.arn)
    stack = follow(ctx, follower, poll)
    status = stack["StackStatus"]
    if status not in OK_STATES:
        raise_failure(ctx, name, stack, follower)
    ctx.say(f"{name}: {status}")
    outputs = outputs_of(stack)
    print_outputs(ctx, name, outputs)
    return outputs


def delete_stack(ctx, stack, poll=POLL_SECONDS, role_arn=None):
    """Delete ``stack`` (a DescribeStacks entry) and follow the deletion to its end."""
    cf = ctx.client("cloudformation")
    follower = Follower(ctx, cf, stack["StackId"], stack["StackName"])
    follower.expected = _resource_ids(cf, stack["StackId"])
    follower.mark()
    request = {"StackName": stack["StackId"]}
    if role_arn:
        request["RoleARN"] = role_arn  # the stage's execution role, as for create and update
    cf.delete_stack(**request)
    final = follow(ctx, follower, poll)
    if final["StackStatus"] != "DELETE_COMPLETE":
        raise_failure(ctx, stack["StackName"], final, follower)
    ctx.say(f"{stack['StackName']}: DELETE_COMPLETE")


def _resource_ids(cf, stack_id):
    try:
        resources = cf.describe_stack_resources(StackName=stack_id)["StackResources"]
    except Exception:  # noqa: BLE001 -- only the progress count needs this; it can start at 0
        return set()
    return {r.get("LogicalResourceId") for r in resources} - {None}


def raise_failure(ctx, name, stack, follower):
    status = stack["StackStatus"]
    failures = follower.failures()
    if failures:
        ctx.say(f"{name} failed ({status}). Failed resources, root cause first:")
        for logical_id, resource_type, reason in failures:
            ctx.say(f"  - {logical_id} ({resource_type}): {' '.join(reason.split())}")
        logical_id, resource_type, reason = failures[0]
        cause = f"{logical_id}: {' '.join(reason.split())}"
        hint = _signal_hint(follower, logical_id, resource_type, reason)
        if hint:
            ctx.say(f"  {hint}")
            cause = f"{cause}; {hint}"
    else:
        cause = " ".join(str(stack.get("StackStatusReason") or "no reason given").split())
    report.append_summary(ctx, f"### `{name}` failed: {status}\n\nRoot cause: {report.cell(cause)}")
    raise OpsError(f"{name} ended in {status}; root cause: {cause}")


def _signal_hint(follower, logical_id, resource_type, reason):
    """Where to read why an instance's setup failed, when its creation signal says only that.

    A CreationPolicy's signal carries no text (SignalResource has none), so the event reads
    "Received FAILURE signal ..." or "Failed to receive ... signal(s)". The instance's console
    output, which outlives a rolled-back instance, holds what its user data printed.
    """
    if resource_type != "AWS::EC2::Instance" or "signal" not in reason.lower():
        return None
    instance = next(
        (
            e.get("PhysicalResourceId")
            for e in reversed(follower.events)
            if e["LogicalResourceId"] == logical_id
            and str(e.get("PhysicalResourceId", "")).startswith("i-")
        ),
        None,
    )
    if instance is None:
        return "the instance's console output holds its setup log"
    return (
        "its setup log is in the console output: "
        f"aws ec2 get-console-output --instance-id {instance} --latest --output text"
    )


def print_outputs(ctx, name, outputs):
    if not outputs:
        ctx.say(f"{name} has no outputs")
        return
    ctx.say(f"Outputs of {name}:")
    width = max(len(k) for k in outputs)
    for key, value in outputs.items():
        ctx.say(f"  {key.ljust(width)}  {value}")
    rows = [(f"`{k}`", v) for k, v in outputs.items()]
    report.append_summary(
        ctx, f"### Outputs of `{name}`\n\n" + report.markdown_table(("Output", "Value"), rows)
    )
