"""``python -m ops lock``: one holder of a stage at a time, waiting, expiry, re-runs, release.

moto serves S3, including the conditional write (``IfNoneMatch: *``) and the conditional delete
(``IfMatch``) the lease relies on; a ``FakeClock`` moves time, and each "other job" is a Context
of its own with the GitHub variables of its run.
"""

import json

import boto3
import pytest

from ops.aws import lock
from ops.cli import main
from tests.support.aws import REGION, create_stack, make_context
from tests.support.clock import FakeClock

BUCKET = "pets-artifacts-dev-123456789012-us-east-1"


def _github(run, job="deploy", attempt="1", workflow="deploy"):
    return {
        "GITHUB_RUN_ID": run,
        "GITHUB_RUN_ATTEMPT": attempt,
        "GITHUB_WORKFLOW": workflow,
        "GITHUB_JOB": job,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/pets",
    }


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    create_stack("pets-bootstrap-dev", {"ArtifactsBucket": BUCKET})
    return client


def _job(clock, **env):
    return make_context(env=_github(**env), clock=clock)


def _lease(s3):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=lock.KEY)["Body"].read())


def test_the_first_holder_gets_the_lease_with_who_and_until_when(s3):
    clock = FakeClock()
    ctx = _job(clock, run="100")
    assert main(["lock", "acquire", "--stage", "dev"], ctx) == 0, ctx.err.getvalue()
    lease = _lease(s3)
    assert lease["holder"] == "deploy / deploy (run 100, attempt 1)"
    assert lease["url"] == "https://github.com/acme/pets/actions/runs/100/attempts/1"
    assert lease["acquired_at"] == "2026-01-01T00:00:00Z"
    assert lease["expires_at"] == "2026-01-01T03:00:00Z"  # 3 h by default
    assert ctx.sleeps == []


def test_a_second_holder_waits_then_gets_it_after_the_release(s3):
    clock = FakeClock()
    deploy, patch = _job(clock, run="100"), _job(clock, run="200", job="patch", workflow="patch")
    assert main(["lock", "acquire", "--stage", "dev"], deploy) == 0
    # The deploy finishes after the patch has polled three times.
    polls = []

    def sleep(seconds):
        polls.append(seconds)
        clock.sleep(seconds)
        if len(polls) == 3:
            assert main(["lock", "release", "--stage", "dev"], deploy) == 0

    patch.sleep = sleep
    assert main(["lock", "acquire", "--stage", "dev"], patch) == 0, patch.err.getvalue()
    assert polls == [lock.POLL] * 3
    out = patch.out.getvalue()
    assert "lock: dev is held by deploy / deploy (run 100, attempt 1) " in out
    assert "since 2026-01-01T00:00:00Z" in out
    assert out.count("; waiting") == 1  # said once, not on every poll
    assert _lease(s3)["holder"] == "patch / patch (run 200, attempt 1)"


def test_waiting_gives_up_in_one_line_naming_the_holder(s3):
    clock = FakeClock()
    assert main(["lock", "acquire", "--stage", "dev"], _job(clock, run="100")) == 0
    other = _job(clock, run="200")
    assert main(["lock", "acquire", "--stage", "dev", "--wait", "600"], other) == 1
    (line,) = other.err.getvalue().splitlines()
    assert line == (
        "lock: dev is still held by deploy / deploy (run 100, attempt 1) "
        "(https://github.com/acme/pets/actions/runs/100/attempts/1) since 2026-01-01T00:00:00Z "
        "after 600 s of waiting; nothing was changed, run again when it is released"
    )
    assert sum(other.sleeps) >= 600
    assert _lease(s3)["holder"] == "deploy / deploy (run 100, attempt 1)"


def test_a_lease_past_its_expiry_is_taken_over(s3):
    clock = FakeClock()
    dead = _job(clock, run="100")
    assert main(["lock", "acquire", "--stage", "dev", "--ttl", "3600"], dead) == 0
    clock.now += 3601  # its runner died an hour ago
    other = _job(clock, run="200", job="patch")
    assert main(["lock", "acquire", "--stage", "dev"], other) == 0
    assert "expired at 2026-01-01T01:00:00Z; taking it over" in other.out.getvalue()
    assert other.sleeps == []
    assert _lease(s3)["url"].endswith("/runs/200/attempts/1")
    # The old holder, back, cannot release what is no longer its own.
    assert main(["lock", "release", "--stage", "dev"], dead) == 1
    assert "not by this job: not released" in dead.err.getvalue()


def test_a_lease_that_has_not_expired_is_not_taken_over(s3):
    clock = FakeClock()
    assert main(["lock", "acquire", "--stage", "dev", "--ttl", "3600"], _job(clock, run="1")) == 0
    clock.now += 3500
    other = _job(clock, run="2")
    assert main(["lock", "acquire", "--stage", "dev", "--wait", "60"], other) == 1
    assert "taking it over" not in other.out.getvalue()


def test_release_of_another_holders_lease_is_refused_and_keeps_it(s3):
    clock = FakeClock()
    assert main(["lock", "acquire", "--stage", "dev"], _job(clock, run="100")) == 0
    other = _job(clock, run="200")
    assert main(["lock", "release", "--stage", "dev"], other) == 1
    (line,) = other.err.getvalue().splitlines()
    assert line.endswith("not by this job: not released")
    assert _lease(s3)["holder"] == "deploy / deploy (run 100, attempt 1)"


def test_a_rerun_of_the_same_job_takes_its_own_lease_back(s3):
    clock = FakeClock()
    assert main(["lock", "acquire", "--stage", "dev"], _job(clock, run="100")) == 0
    clock.now += 600
    rerun = _job(clock, run="100", attempt="2")
    assert main(["lock", "acquire", "--stage", "dev"], rerun) == 0
    assert rerun.sleeps == []
    assert "taking it again" in rerun.out.getvalue()
    lease = _lease(s3)
    assert lease["url"].endswith("/runs/100/attempts/2")
    assert lease["acquired_at"] == "2026-01-01T00:10:00Z"
    # Another job of the same run is another holder.
    sibling = _job(clock, run="100", job="patch")
    assert main(["lock", "acquire", "--stage", "dev", "--wait", "0"], sibling) == 1


def test_release_without_a_lock_is_a_no_op_that_says_so(s3):
    ctx = _job(FakeClock(), run="100")
    assert main(["lock", "release", "--stage", "dev"], ctx) == 0
    assert "lock: dev is not locked; nothing to release" in ctx.out.getvalue()
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_released_means_gone_and_the_next_holder_needs_no_wait(s3):
    clock = FakeClock()
    first = _job(clock, run="100")
    assert main(["lock", "acquire", "--stage", "dev"], first) == 0
    assert main(["lock", "release", "--stage", "dev"], first) == 0
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    second = _job(clock, run="200")
    assert main(["lock", "acquire", "--stage", "dev"], second) == 0
    assert second.sleeps == []


def test_outside_github_the_holder_is_user_at_host():
    holder = lock.Holder.from_env({"USER": "alice"})
    assert holder.owner.startswith("alice@") and holder.name == holder.owner
    assert holder.url == ""
