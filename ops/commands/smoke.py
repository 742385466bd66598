"""``python -m ops smoke --stage S`` (or ``--url URL``): is the deployed API answering correctly?

Checks: a known pet answers 200 with exactly ``{"name", "owner", "species"}`` as expected, and an
unknown one answers 404 with the NotFound body. Each request's latency is printed. Any mismatch
exits 1, after every check has run, so one run shows everything that is wrong.

An Aurora Serverless v2 cluster paused at 0 ACU takes ~15 s to resume; meanwhile the API answers
503 with ``Retry-After`` (chalice_app/app.py). So 503 (and 502/504 from API Gateway) is retried
with exponential backoff, honouring Retry-After, for up to ``--max-wait`` seconds (60 by default).

The URL is ``--url``, or the ``EndpointURL`` output of ``pets-<stage>-api``; pets are at
``<EndpointURL>api/pet/<name>``. HTTP goes through ``ctx.fetch`` and waits through ``ctx.sleep``,
so the tests run against a real HTTP server on 127.0.0.1 without waiting.
"""

import json
import time
import uuid
from urllib.parse import quote

from chalicelib.pretraffic import CANARY_PET
from ops import report, stages
from ops.cfn.stacks import require, stack_outputs
from ops.errors import OpsError

RETRYABLE = {502, 503, 504}
# The pipeline's own pet, the one the PreTraffic hook looks up too.
DEFAULT_PET = CANARY_PET


def add_arguments(parser):
    parser.description = (
        "GET a known pet (expect 200 and its body) and an unknown one (expect 404) from "
        "the stage's EndpointURL or --url. Retries 502/503/504 with backoff for up to "
        "--max-wait seconds (a paused Aurora resuming). Exit 1 on any mismatch."
    )
    target = parser.add_mutually_exclusive_group(required=True)
    stages.add_stage_argument(
        target, required=False, help="check the stage's API (the EndpointURL of pets-STAGE-api)"
    )
    target.add_argument("--url", help="check the API at this base URL instead")
    parser.add_argument("--pet", default=DEFAULT_PET["name"], help="a pet that must exist")
    parser.add_argument("--owner", default=DEFAULT_PET["owner"], help="its expected owner")
    parser.add_argument("--species", default=DEFAULT_PET["species"], help="its species")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to retry 502/503/504 (a paused Aurora resuming)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="seconds per request"
    )


def run(args, ctx):
    url = args.url or endpoint_url(ctx, args.stage)
    expected = {"name": args.pet, "owner": args.owner, "species": args.species}
    problems = smoke(ctx, url, expected, max_wait=args.max_wait, timeout=args.timeout)
    if problems:
        raise OpsError(f"smoke: {len(problems)} check(s) failed: " + "; ".join(problems))
    return 0


def endpoint_url(ctx, stage):
    name = stages.stack_name(stage, "api")
    try:
        (url,) = require(stack_outputs(ctx, name), name, "EndpointURL")
    except OpsError as exc:
        raise OpsError(f"smoke: {exc}") from exc
    return url


def smoke(ctx, base_url, expected, max_wait=60.0, timeout=10.0):
    """Run the checks; return the list of problems (empty when all passed)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    budget = {"waited": 0.0, "max": max_wait}
    problems, rows = [], []
    missing = f"no-such-pet-{uuid.uuid4().hex[:6]}"
    checks = [
        (expected["name"], 200, expected),
        (missing, 404, {"code": "NotFound", "message": "No pet has that name."}),
    ]
    for name, want_status, want_body in checks:
        url = base + "api/pet/" + quote(name, safe="")
        status, body, elapsed_ms = _get_with_retry(ctx, url, timeout, budget)
        verdict = "ok"
        if status != want_status:
            verdict = f"expected {want_status}"
            problems.append(f"GET {url} answered {status}, expected {want_status}")
        elif body != want_body:
            verdict = "wrong body"
            problems.append(
                f"GET {url} answered {json.dumps(body)}, expected {json.dumps(want_body)}"
            )
        ctx.say(f"smoke: GET {url} -> {status} in {elapsed_ms:.0f} ms ({verdict})")
        rows.append((f"`GET {url}`", status, f"{elapsed_ms:.0f} ms", verdict))
    result = "passed" if not problems else "FAILED"
    report.append_summary(
        ctx,
        f"### Smoke test {result}\n\n"
        + report.markdown_table(("Request", "Status", "Latency", "Result"), rows),
    )
    if not problems:
        ctx.say("smoke: passed")
    return problems


def _get_with_retry(ctx, url, timeout, budget):
    delay = 1.0
    while True:
        status, body, headers, elapsed_ms = _get(ctx, url, timeout)
        if status not in RETRYABLE:
            return status, body, elapsed_ms
        left = budget["max"] - budget["waited"]
        if left <= 0:
            return status, body, elapsed_ms
        pause = min(max(delay, _retry_after(headers)), left)
        ctx.say(f"smoke: GET {url} -> {status} (database resuming?); retrying in {pause:.0f} s")
        ctx.sleep(pause)
        budget["waited"] += pause + elapsed_ms / 1000
        delay = min(delay * 2, 16.0)


def _get(ctx, url, timeout):
    started = time.perf_counter()
    try:
        answer = ctx.fetch(url, timeout=timeout, headers={"Accept": "application/json"})
    except OpsError as exc:
        raise OpsError(f"smoke: {exc}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    try:
        body = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = answer.body.decode("utf-8", "replace")[:200]
    return answer.status, body, answer.headers, elapsed_ms


def _retry_after(headers):
    try:
        return float(headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0
