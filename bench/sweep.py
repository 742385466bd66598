"""The concurrency sweep: 1 to 64 warm containers at once, the API against the raw lookup.

A warm Lambda container is one process with one database connection serving one request at a
time. So each level runs that many worker processes (forked from the benchmark, each building
its own app or raw connection after the fork), every one in a closed loop: send a lookup, wait
for the answer, send the next. Per level and contender:

* **throughput**: lookups answered by all workers inside a common window (``duration`` seconds
  that start at the same ``CLOCK_MONOTONIC`` instant in every worker), divided by its length;
* **p50 / p99**: over every lookup of every worker in that window;
* **client CPU per lookup**: the workers' own CPU time (``time.process_time``) in the window,
  divided by the lookups: what the client side costs, apart from the server's work;
* **connections held**: counted by the server right after the window, while every worker still
  holds its connection (``information_schema.PROCESSLIST`` rows for the sweep's own database,
  which nothing else uses), and each worker reports how many connections it opened (one, if
  nothing reconnected).

``raw`` is pymysql on an open connection running the API's ``FIND_PET_SQL``, the floor; ``api``
is the Chalice app called as Lambda calls it, with prebuilt API Gateway events. Both check every
answer (the status, or the row's name; the API's whole body on every 16th). The two contenders
alternate which goes first from level to level, so a drift in the machine's load does not always
land on the same one. Workers, MariaDB and the benchmark share this machine's cores, so the
throughput stops growing where the CPUs are full: the sweep shows where that is.
"""

import json
import multiprocessing
import os
import statistics
import threading
import time

from bench import contenders, dataset
from bench.warm import percentile
from ops.db.admin import admin_connection

FULL_LEVELS = (1, 2, 4, 8, 16, 32, 64)
QUICK_LEVELS = (1, 2)
# Answers whose whole body an API worker decodes and compares (the status of all of them is).
BODY_CHECK_EVERY = 16
# Events a worker prebuilds and reuses in turn: building one is the client's work, not the API's.
EVENTS_PER_WORKER = 256


def measure(settings, pets, levels, duration, warmup_requests, seed, blocks=3):
    """Run the sweep against ``settings``' database (``pets`` pets); return one entry per level.

    Each level runs ``blocks`` short blocks, each contender once per block in an order that
    alternates, and reports medians over the blocks (the ratio is taken within each block), so
    a burst of load from a neighbour on this shared machine shifts both contenders alike.
    """
    context = multiprocessing.get_context("fork")
    results = []
    for index, level in enumerate(levels):
        runs = {"raw": [], "api": []}
        for block in range(blocks):
            order = ("raw", "api") if (index + block) % 2 == 0 else ("api", "raw")
            for kind in order:
                runs[kind].append(
                    _run_level(
                        context, settings, kind, level, pets, duration, warmup_requests,
                        seed * 100 + index * 10 + block,
                    )
                )  # fmt: skip
        entry = {"containers": level}
        for kind, blocks_of_kind in runs.items():
            entry[kind] = _median_block(blocks_of_kind)
        entry["api_to_raw_throughput"] = round(
            statistics.median(
                api["throughput_rps"] / raw["throughput_rps"]
                for api, raw in zip(runs["api"], runs["raw"], strict=True)
            ),
            3,
        )
        results.append(entry)
    return results


def _median_block(blocks):
    """Medians over blocks of each figure; connection counts must hold in every block, so the
    worst block's are kept."""
    summary = {
        key: round(statistics.median(b[key] for b in blocks), 1)
        for key in ("throughput_rps", "p50_us", "p99_us", "client_cpu_us")
    }
    summary["requests"] = sum(b["requests"] for b in blocks)
    for key in ("connections_held", "connections_opened"):
        values = {b[key] for b in blocks}
        summary[key] = values.pop() if len(values) == 1 else sorted(values)
    summary["throughput_rps_per_block"] = [b["throughput_rps"] for b in blocks]
    return summary


def _run_level(context, settings, kind, level, pets, duration, warmup_requests, seed):
    ready = context.Barrier(level + 1)
    release = context.Event()  # workers keep their connection until the count is taken
    start_at = context.Value("d", 0.0)
    receivers, workers = [], []
    for worker in range(level):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker,
            args=(kind, settings, pets, seed * 1000 + worker, warmup_requests, ready, start_at),
            kwargs={"duration": duration, "sender": sender, "release": release},
            daemon=True,
        )
        process.start()
        sender.close()
        receivers.append(receiver)
        workers.append(process)
    try:
        ready.wait(timeout=120)  # every worker has its connection open and warm
    except threading.BrokenBarrierError:
        pass  # a worker failed before the window: its report says why
    else:
        start_at.value = time.monotonic() + 0.2
    reports = [json.loads(receiver.recv()) for receiver in receivers]
    # Every worker has reported and still holds its connection, idle, as a warm container does.
    held = connections_held(settings)
    release.set()
    for process in workers:
        process.join(timeout=30)
    failed = [r["error"] for r in reports if r.get("error")]
    if failed:
        raise RuntimeError(f"{kind} worker failed: {failed[0]}")
    latencies = sorted(ns for r in reports for ns in r["latencies_ns"])
    return {
        "throughput_rps": round(len(latencies) / duration, 1),
        "p50_us": round(percentile(latencies, 0.50) / 1000, 1),
        "p99_us": round(percentile(latencies, 0.99) / 1000, 1),
        "requests": len(latencies),
        # The worker's own CPU per lookup (client side: pymysql, and Chalice and the app for the
        # API); the server's is not in it.
        "client_cpu_us": round(
            sum(r["cpu_seconds"] for r in reports) / max(1, len(latencies)) * 1e6, 1
        ),
        "connections_held": held,
        "connections_opened": sum(r["connections_opened"] for r in reports),
        "per_worker_rps_spread": _spread([r.get("count", 0) / duration for r in reports]),
    }


def _spread(values):
    """Lowest and highest per-worker throughput: shows whether one container starved others."""
    return [round(min(values), 1), round(max(values), 1)] if values else []


def connections_held(settings):
    """Connections the server holds to ``settings``' database right now."""
    with admin_connection(settings) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s",
            (settings.database,),
        )
        return int(cursor.fetchone()[0])


def _worker(
    kind, settings, pets, seed, warmup_requests, ready, start_at, duration, sender, release
):
    """One warm container: its own connection, a closed loop of lookups in the common window."""
    try:
        names = [dataset.pet_name(i) for i in dataset.sample_ids(pets, EVENTS_PER_WORKER, seed)]
        player = _RawWorker(settings) if kind == "raw" else _ApiWorker(settings)
        contenders.silence_logs()  # after the app's import, which points the logs at stdout
        requests = [(name, player.prepare(name)) for name in names]
        for i in range(warmup_requests):
            name, request = requests[i % len(requests)]
            player.check(name, player.call(request), full=True)
        ready.wait(timeout=120)
        while start_at.value == 0.0:
            time.sleep(0.001)
        begin, end = start_at.value, start_at.value + duration
        while time.monotonic() < begin:
            pass  # at most 0.2 s: a sleep would wake late by a scheduler tick
        clock = time.perf_counter_ns
        latencies = []
        i = 0
        cpu_started = time.process_time()
        while time.monotonic() < end:
            name, request = requests[i % len(requests)]
            started = clock()
            answer = player.call(request)
            elapsed = clock() - started
            player.check(name, answer, full=i % BODY_CHECK_EVERY == 0)
            latencies.append(elapsed)
            i += 1
        cpu_seconds = time.process_time() - cpu_started
        report = {
            "count": len(latencies),
            "cpu_seconds": cpu_seconds,
            "latencies_ns": latencies,
            "connections_opened": player.connections_opened(),
        }
    except Exception as exc:  # noqa: BLE001 -- whatever it is, the parent reports it and fails
        ready.abort()  # nobody waits for a worker that will never be ready
        report = {"error": f"{type(exc).__name__}: {exc}"}
    sender.send(json.dumps(report))
    sender.close()
    release.wait(timeout=60)
    os._exit(0)  # no interpreter teardown: the parent's inherited connections stay untouched


class _RawWorker(contenders.Raw):
    def check(self, pet_name, answer, full):
        super().check(pet_name, answer)


class _ApiWorker:
    def __init__(self, settings):
        self._player = contenders.chalice_contender(settings)

    def prepare(self, pet_name):
        return self._player.prepare(pet_name)

    def call(self, request):
        return self._player.call(request)

    def check(self, pet_name, answer, full):
        if full:
            self._player.check(pet_name, answer)
        elif answer.get("statusCode") != 200:
            raise AssertionError(f"api answered {answer!r} for {pet_name!r}")

    def connections_opened(self):
        return self._player.connections_opened()


def saturation(results):
    """The level after which the API's throughput grows by less than 10 % when containers
    double (None if it still grows at the last level)."""
    for before, after in zip(results, results[1:], strict=False):
        if after["api"]["throughput_rps"] < 1.10 * before["api"]["throughput_rps"]:
            return before["containers"]
    return None


def summary(results):
    """Figures for the targets: the worst API/raw throughput ratio and connection mismatches."""
    return {
        "worst_api_to_raw_throughput": min(r["api_to_raw_throughput"] for r in results),
        "connections_mismatched": [
            r["containers"]
            for r in results
            if r["api"]["connections_held"] != r["containers"]
            or r["api"]["connections_opened"] != r["containers"]
        ],
        "saturates_at": saturation(results),
        "median_api_to_raw_throughput": statistics.median(
            r["api_to_raw_throughput"] for r in results
        ),
    }
