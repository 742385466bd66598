"""``python -m ops lock acquire|release --stage S`` (``make lock``, ``make unlock``): one deploy
or patch of a stage at a time, across workflows, without cancelling anyone.

``acquire`` waits for the stage's lease and takes it; ``release`` gives it back, and does
nothing when the stage is not locked, so a workflow can call it whatever happened before. The
machinery, and why a lease in S3 rather than a GitHub concurrency group, is ``ops.aws.lock``.
"""

from ops import stages
from ops.aws import lock


def add_arguments(parser):
    parser.description = (
        "Take (acquire) or give back (release) the stage's lock, locks/stage.json in its "
        "artifacts bucket, so that one deploy or patch changes the stage at a time. acquire "
        "waits for the holder, taking over a lease past its expiry; release deletes only this "
        "job's lease and does nothing when there is none. The holder is the GitHub job "
        "(GITHUB_RUN_ID, GITHUB_JOB, ...) or user@host."
    )
    parser.add_argument("action", choices=("acquire", "release"), help="take or give back")
    stages.add_stage_argument(parser)
    parser.add_argument(
        "--wait",
        type=float,
        default=lock.WAIT,
        metavar="SECONDS",
        help=f"how long acquire waits for another holder before failing (default: {lock.WAIT:g})",
    )
    parser.add_argument(
        "--ttl",
        type=float,
        default=lock.TTL,
        metavar="SECONDS",
        help=(
            "how long the lease holds if it is never released, longer than any deploy or patch "
            f"(default: {lock.TTL:g})"
        ),
    )
    stages.add_bucket_argument(parser)


def run(args, ctx):
    bucket = stages.artifacts_bucket(ctx, args.stage, args.bucket)
    holder = lock.Holder.from_env(ctx.env)
    if args.action == "acquire":
        lock.acquire(ctx, bucket, holder, args.stage, wait=args.wait, ttl=args.ttl)
    else:
        lock.release(ctx, bucket, holder, args.stage)
    return 0
