"""The command line: ``python -m bench [--quick] [--out DIR]``.

A full run (``make bench``) measures 1e3, 1e5 and 1e6 pets, then the concurrency sweep (1 to 64
warm containers, ``bench/sweep.py``), and writes ``bench/results.json``,
``docs/performance.png``, ``docs/performance-sweep.png`` and the generated block of
``docs/performance.md``. ``--quick`` is the smoke check ``make test`` runs: tiny sizes and few
iterations, written to ``--out`` (a temporary folder by default) so it never touches the
committed results. Its timings mean nothing.
"""

import argparse
import contextlib
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    cold,
    contenders,
    dataset,
    package,
    profile,
    report,
    sweep,
    warm,
)
from chalicelib.settings import DbSettings
from ops.db.admin import admin_connection
from tests.support.db import scratch_database
from tests.support.events import pet_event

REPO = Path(__file__).resolve().parent.parent

FULL = {
    "sizes": [1_000, 100_000, 1_000_000],
    "rounds": 6_000,
    "warmup": 1_000,
    "repeats": 5,
    "cold_repeats": 15,
    "connection_requests": 1_000,
    "import_runs": 9,
    "sweep_levels": list(sweep.FULL_LEVELS),
    "sweep_seconds": 1.5,
    "sweep_blocks": 3,
    "sweep_warmup": 200,
    "sweep_pets": 1_000,
}
QUICK = {
    "sizes": [50, 500],
    "rounds": 150,
    "warmup": 20,
    "repeats": 3,
    "cold_repeats": 1,
    "connection_requests": 100,
    "import_runs": 1,
    "sweep_levels": list(sweep.QUICK_LEVELS),
    "sweep_seconds": 0.3,
    "sweep_blocks": 1,
    "sweep_warmup": 20,
    "sweep_pets": 50,
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (make test)")
    parser.add_argument("--out", type=Path, help="write results, plot and doc here instead")
    parser.add_argument("--seed", type=int, default=7, help="seed for the names looked up")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    if args.out:
        out = args.out
        paths = (out / "results.json", out / "performance.png", out / "performance.md")
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="pets-bench-quick-"))
        paths = (out / "results.json", out / "performance.png", out / "performance.md")
    else:
        paths = (
            REPO / "bench/results.json",
            REPO / "docs/performance.png",
            REPO / "docs/performance.md",
        )
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    results = run(config, args.seed, quick=args.quick)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["targets"] = report.evaluate(results)

    results_path, plot_path, doc_path = paths
    sweep_plot_path = plot_path.with_name(report.SWEEP_PLOT)
    report.write_json(results, results_path)
    report.plot(results, plot_path)
    report.plot_sweep(results, sweep_plot_path)
    report.write_doc(results, doc_path, plot_path.name)
    print(report.table(results))
    print(
        f"\nwrote {results_path}, {plot_path}, {sweep_plot_path}, {doc_path} "
        f"in {results['elapsed_s']} s"
    )
    return 0


def say(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(config, seed, quick):
    server = DbSettings.from_env({**_db_env(), "DB_NAME": ""})
    results = {
        "schema": report.SCHEMA_VERSION,
        "mode": "quick" if quick else "full",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "config": config,
    }
    with admin_connection(server) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        results["machine"] = report.machine(cursor.fetchone()[0])

    sizes = config["sizes"]
    with contextlib.ExitStack() as stack:
        databases = {
            size: stack.enter_context(scratch_database(server, kind="bench_", migrated=True))
            for size in sizes
        }
        for size, settings in databases.items():
            loading = time.monotonic()
            dataset.grow_to(settings, 0, size)
            say(f"{size:,} pets in {settings.database}: {time.monotonic() - loading:.1f} s")
        if not quick:  # a smoke run has nothing worth waiting for
            dataset.settle(server, timeout=60)
        groups = {}
        for size, settings in databases.items():
            groups[size] = [
                contenders.Raw(settings),
                contenders.chalice_contender(settings),
                contenders.flask_contender(settings),
                contenders.chalice_bare_contender(settings),
            ]
        contenders.silence_logs()
        total = config["warmup"] + config["rounds"]
        names = {
            size: [dataset.pet_name(i) for i in dataset.sample_ids(size, total, seed + size)]
            for size in sizes
        }
        say(f"timing {config['rounds']:,} interleaved rounds at {len(sizes)} sizes")
        summary = warm.measure(groups, names, config["warmup"], config["rounds"], config["repeats"])
        results["warm"] = [
            {
                "size": size,
                "table_mb": dataset.table_mb(databases[size]),
                "contenders": summary[size],
            }
            for size in sizes
        ]
        results["table_size"] = {
            name: {
                "p50_ratio_largest_to_smallest": _ratio(
                    summary[sizes[-1]][name]["p50_us"], summary[sizes[0]][name]["p50_us"]
                )
            }
            for name in report.CONTENDERS
        }
        largest = groups[sizes[-1]]
        results["connections"] = count_connections(
            largest[1:3], config["connection_requests"], sizes[-1], seed
        )
        for group in groups.values():
            group[0].close()

        say("profiling the warm path")
        results["profile"] = {
            "warm_chalice": profile.warm_profile(groups[sizes[0]][1], names[sizes[0]]),
        }
        say("cold starts")
        event = pet_event(dataset.pet_name(sizes[0] - 1))
        roots = cold.build_task_roots(stack.enter_context(tempfile.TemporaryDirectory()))
        cold_start = cold.measure(databases[sizes[0]], event, config["cold_repeats"], roots)
        cold_start["auth_modes"] = cold.auth_modes(
            roots["chalice"], databases[sizes[0]], event, max(1, config["cold_repeats"] // 3)
        )
        results["profile"]["app_imports"] = [
            {"module": module, "self_us": own, "cumulative_us": total}
            for module, own, total in profile.app_imports(roots["chalice"], config["import_runs"])
        ]

        # Its own database: the connections the server holds to it are the sweep's workers'.
        sweep_db = stack.enter_context(scratch_database(server, kind="bench_", migrated=True))
        dataset.grow_to(sweep_db, 0, config["sweep_pets"])
        say(f"concurrency sweep: {config['sweep_levels']} warm containers")
        levels = sweep.measure(
            sweep_db,
            config["sweep_pets"],
            config["sweep_levels"],
            config["sweep_seconds"],
            config["sweep_warmup"],
            seed,
            blocks=config["sweep_blocks"],
        )
        results["sweep"] = {"levels": levels, "summary": sweep.summary(levels)}
    cold_start["ratios"] = {
        "chalice_to_baseline": _ratio(
            cold_start["chalice"]["ready_ms"], cold_start["baseline"]["ready_ms"]
        ),
        "chalice_to_flask": _ratio(
            cold_start["chalice"]["ready_ms"], cold_start["flask"]["ready_ms"]
        ),
        "chalice_import_to_baseline_import": _ratio(
            cold_start["chalice"]["import_ms"], cold_start["baseline"]["import_ms"]
        ),
        "chalice_import_to_flask_import": _ratio(
            cold_start["chalice"]["import_ms"], cold_start["flask"]["import_ms"]
        ),
    }
    results["cold_start"] = cold_start

    say("package size")
    results["package"] = package.measure(build=not quick)
    return results


def count_connections(players, requests, size, seed):
    """New connections each handler opened while serving ``requests`` more warm requests."""
    names = [dataset.pet_name(i) for i in dataset.sample_ids(size, requests, seed + 99)]
    counts = {}
    for player in players:
        before = player.connections_opened()
        for name in names:
            player.check(name, player.call(player.prepare(name)))
        opened = player.connections_opened() - before
        counts[player.name] = {
            "requests": requests,
            "opened": opened,
            "new_per_1000": round(opened * 1000 / requests, 3),
            "opened_since_start": player.connections_opened(),
        }
    return counts


def _ratio(a, b):
    return round(a / b, 3)


def _db_env():
    # The server comes from DB_* like everywhere else; the database is the benchmark's own.
    return {k: v for k, v in os.environ.items() if k.startswith("DB_")}
