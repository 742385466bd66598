"""One deploy or patch of a stage at a time: a lease in the stage's artifacts bucket.

GitHub's concurrency groups keep one pending run per group and cancel the older one, so two
workflows of a stage cannot share one without cancelling each other. Instead a job that changes
the stage (a deploy, a patch) takes this lease first and waits for it, and nobody is cancelled.

The lease is ``locks/stage.json`` in the stage's own bucket, written with S3's conditional write
``IfNoneMatch: *``: of two writers, one gets the object and the other 412 Precondition Failed
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). It says who
holds it (``owner``: the repository, run and job, so a re-run of the same job, any attempt,
takes its own lease back), the run's URL, when it was taken and when it expires. A lease past
its expiry (a runner that died without releasing) is deleted with ``IfMatch: <its ETag>``, so a
lease someone renewed or took in between is never deleted, and then taken as usual. ``release``
deletes the lease only when this holder owns it, the same way.

Waiting polls with ``ctx.sleep``, printing who holds the lease and since when whenever that
changes, a "still waiting" line each few minutes, and gives up in one line naming the holder.
"""

import getpass
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from ops import report
from ops.aws.errors import error_code
from ops.errors import OpsError

KEY = "locks/stage.json"
TTL = 3 * 3600  # longer than the longest deploy (an Aurora create) or patch with its reboots
WAIT = 3600
POLL = 20
# S3's answers when a conditional write or delete loses: the object changed (412), or another
# conditional request on it was in flight (409).
CONTENDED = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


@dataclass(frozen=True)
class Holder:
    owner: str  # the same for every attempt of one job
    name: str  # what the messages say
    url: str = ""

    @classmethod
    def from_env(cls, env):
        """The GitHub job this runs in, else ``user@host``."""
        run = env.get("GITHUB_RUN_ID")
        if not run:
            who = f"{_user(env)}@{socket.gethostname()}"
            return cls(owner=who, name=who)
        repository = env.get("GITHUB_REPOSITORY", "")
        job = env.get("GITHUB_JOB", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return cls(
            owner=f"{repository}#{run}/{job}",
            name=f"{env.get('GITHUB_WORKFLOW', 'workflow')} / {job} (run {run}, attempt {attempt})",
            url=f"{server}/{repository}/actions/runs/{run}/attempts/{attempt}",
        )


def _user(env):
    return env.get("USER") or env.get("USERNAME") or getpass.getuser()


def acquire(ctx, bucket, holder, stage, wait=WAIT, ttl=TTL, poll=POLL):
    """Take the stage's lease, waiting up to ``wait`` seconds; return the lease written."""
    s3 = ctx.client("s3")
    deadline = ctx.clock() + wait
    heartbeat = report.Heartbeat(ctx, every=300)
    seen = None
    while True:
        now = ctx.wall()
        lease = {
            "owner": holder.owner,
            "holder": holder.name,
            "url": holder.url,
            "acquired_at": _iso(now),
            "expires_at": _iso(now + ttl),
        }
        try:
            s3.put_object(
                Bucket=bucket, Key=KEY, Body=json.dumps(lease).encode(), IfNoneMatch="*",
                ContentType="application/json",
            )  # fmt: skip
        except Exception as exc:
            if error_code(exc) not in CONTENDED:
                raise
        else:
            ctx.say(f"lock: {stage} is ours until {lease['expires_at']} ({holder.name})")
            return lease
        current, etag = read(ctx, bucket)
        if current is None:  # released between our write and our read: try again
            ctx.sleep(1)
            continue
        if current.get("owner") == holder.owner:
            ctx.say(f"lock: {stage} was taken by this job at {current.get('acquired_at')}; "
                    "taking it again")  # fmt: skip
            _delete(s3, bucket, etag)
            continue
        if _expired(current, ctx.wall()):
            ctx.say(f"lock: the lease of {_who(current)} expired at {current.get('expires_at')}; "
                    "taking it over")  # fmt: skip
            _delete(s3, bucket, etag)
            continue
        if ctx.clock() >= deadline:
            raise OpsError(
                f"lock: {stage} is still held by {_who(current)} since "
                f"{current.get('acquired_at')} after {wait:g} s of waiting; "
                "nothing was changed, run again when it is released"
            )
        if current != seen:
            ctx.say(f"lock: {stage} is held by {_who(current)} since {current.get('acquired_at')} "
                    f"(expires {current.get('expires_at')}); waiting")  # fmt: skip
            heartbeat.changed()
            seen = current
        else:
            heartbeat.beat(f"lock: still waiting for {_who(current)}")
        ctx.sleep(poll)


def release(ctx, bucket, holder, stage):
    """Delete the stage's lease if this holder owns it; a no-op when there is none."""
    current, etag = read(ctx, bucket)
    if current is None:
        ctx.say(f"lock: {stage} is not locked; nothing to release")
        return False
    if current.get("owner") != holder.owner:
        raise OpsError(
            f"lock: {stage} is held by {_who(current)} since {current.get('acquired_at')}, "
            "not by this job: not released"
        )
    if not _delete(ctx.client("s3"), bucket, etag):
        raise OpsError(f"lock: the lease of {stage} changed while it was released; run again")
    ctx.say(f"lock: {stage} released ({holder.name})")
    return True


def read(ctx, bucket):
    """``(lease, etag)``, or ``(None, None)`` when the stage is not locked."""
    try:
        answer = ctx.client("s3").get_object(Bucket=bucket, Key=KEY)
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None, None
        raise
    try:
        lease = json.loads(answer["Body"].read())
    except ValueError:
        lease = {}
    return (lease if isinstance(lease, dict) else {}), answer["ETag"]


def _delete(s3, bucket, etag):
    """Delete the lease only if it is still the one read (its ETag); False if it changed."""
    try:
        s3.delete_object(Bucket=bucket, Key=KEY, IfMatch=etag)
    except Exception as exc:
        if error_code(exc) in (*CONTENDED, "NoSuchKey", "404"):
            return False
        raise
    return True


def _expired(lease, now):
    try:
        return datetime.fromisoformat(lease["expires_at"]).timestamp() <= now
    except (KeyError, TypeError, ValueError):
        return True  # unreadable: nobody can be said to hold it


def _who(lease):
    name = lease.get("holder") or lease.get("owner") or "someone"
    return f"{name} ({lease['url']})" if lease.get("url") else name


def _iso(seconds):
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
