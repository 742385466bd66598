"""Turning the measurements into the table, ``results.json``, the plot and docs/performance.md.

The performance targets (docs/performance.md) are evaluated here, each to ``met`` true or false
with the value it was judged on (``None`` when it could not be measured in this run, e.g. the zip
in quick mode).
Only the block between the two markers in docs/performance.md is rewritten, so the hand-written
parts (method, profiles, what stands in the way) survive a new run.
"""

import json
import os
import platform
from pathlib import Path

SCHEMA_VERSION = 1
BEGIN = "<!-- BEGIN GENERATED: python -m bench rewrites this block -->"
END = "<!-- END GENERATED -->"
CONTENDERS = ["raw", "chalice", "flask", "chalice_bare"]
ZIP_LIMIT_BYTES = 100 * 1024
SWEEP_PLOT = "performance-sweep.png"
# The sweep's target: the API keeps at least this share of the raw lookup's throughput.
SWEEP_THROUGHPUT_RATIO = 0.7


def machine(server_version):
    cpu = "unknown"
    memory_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass  # not Linux: the fields stay unknown
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "database": server_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def evaluate(results):
    """Return the list of targets, each with its value and verdict."""
    warm = results["warm"]
    targets = []
    ratios = [entry["contenders"]["chalice"]["ratio_p50_to_raw"] for entry in warm]
    worst = max(ratios)
    targets.append(
        _target(
            "handler_p50_vs_raw",
            "Chalice handler p50 <= 1.25 x raw lookup p50 (worst table size)",
            1.25,
            worst,
            worst <= 1.25,
        )
    )
    growth = results["table_size"]["chalice"]["p50_ratio_largest_to_smallest"]
    targets.append(
        _target(
            "p50_largest_vs_smallest",
            f"Chalice p50 at {warm[-1]['size']:,} pets <= 1.2 x p50 at {warm[0]['size']:,}",
            1.2,
            growth,
            growth <= 1.2,
        )
    )
    cold = results["cold_start"]["ratios"]
    targets.append(
        _target(
            "cold_vs_chalice_pymysql",
            "Cold start (spawn to first response) <= 1.1 x spawn to chalice + pymysql imported",
            1.1,
            cold["chalice_to_baseline"],
            cold["chalice_to_baseline"] <= 1.1,
        )
    )
    targets.append(
        _target(
            "cold_vs_flask",
            "Cold start <= 0.5 x the Flask peer's cold start",
            0.5,
            cold["chalice_to_flask"],
            cold["chalice_to_flask"] <= 0.5,
        )
    )
    opened = results["connections"]["chalice"]["new_per_1000"]
    targets.append(
        _target(
            "connections", "New DB connections per 1,000 warm requests = 0", 0, opened, opened == 0
        )
    )
    size = results["package"].get("bytes")
    targets.append(
        _target(
            "zip_size",
            "API zip <= 100 KB (102,400 bytes)",
            ZIP_LIMIT_BYTES,
            size,
            None if size is None else size <= ZIP_LIMIT_BYTES,
        )
    )
    targets += sweep_targets(results)
    return targets


def sweep_targets(results):
    sweep = results["sweep"]["summary"]
    levels = [entry["containers"] for entry in results["sweep"]["levels"]]
    mismatched = sweep["connections_mismatched"]
    worst = sweep["worst_api_to_raw_throughput"]
    return [
        _target(
            "sweep_connections",
            f"Connections held = warm containers at every level ({levels[0]}-{levels[-1]})",
            0,
            len(mismatched),
            not mismatched,
        ),
        _target(
            "sweep_throughput",
            f"API throughput >= {SWEEP_THROUGHPUT_RATIO} x raw lookup throughput at every level "
            "(worst level)",
            SWEEP_THROUGHPUT_RATIO,
            worst,
            worst >= SWEEP_THROUGHPUT_RATIO,
        ),
    ]


def sweep_table(results):
    """The sweep as a Markdown table, one row per level."""
    lines = [
        "| warm containers | raw lookups/s | API lookups/s | API / raw | raw p50 / p99 µs "
        "| API p50 / p99 µs | client CPU µs per lookup, raw / API "
        "| connections held (API) | connections opened (API) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for entry in results["sweep"]["levels"]:
        raw, api = entry["raw"], entry["api"]
        lines.append(
            f"| {entry['containers']} | {raw['throughput_rps']:,.0f} "
            f"| {api['throughput_rps']:,.0f} | {entry['api_to_raw_throughput']:.2f} "
            f"| {raw['p50_us']:,.0f} / {raw['p99_us']:,.0f} "
            f"| {api['p50_us']:,.0f} / {api['p99_us']:,.0f} "
            f"| {raw['client_cpu_us']:,.0f} / {api['client_cpu_us']:,.0f} "
            f"| {api['connections_held']} "
            f"| {api['connections_opened']} |"
        )
    saturates = results["sweep"]["summary"]["saturates_at"]
    lines += [
        "",
        (
            f"The API's throughput stops growing (less than +10 % when the containers double) "
            f"after {saturates} warm containers: there the {results['machine']['cores']} cores "
            "are full, shared by the workers, MariaDB and the benchmark."
            if saturates
            else "The API's throughput still grows at the last level."
        ),
    ]
    return "\n".join(lines)


def _target(key, description, limit, value, met):
    return {"id": key, "description": description, "limit": limit, "value": value, "met": met}


def verdict(met):
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def table(results):
    """The results as Markdown tables (printed and put in the doc)."""
    lines = [
        "| pets (table MB) | contender | p50 µs | p99 µs | p50 / raw |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for entry in results["warm"]:
        for name in CONTENDERS:
            row = entry["contenders"][name]
            lines.append(
                f"| {entry['size']:,} ({entry['table_mb']} MB) | {name} | {row['p50_us']:.1f} "
                f"| {row['p99_us']:.1f} | {row['ratio_p50_to_raw']:.2f} |"
            )
    lines += ["", "| contender | p50 at largest / p50 at smallest |", "| --- | ---: |"]
    for name in CONTENDERS:
        lines.append(
            f"| {name} | {results['table_size'][name]['p50_ratio_largest_to_smallest']:.2f} |"
        )
    cold = results["cold_start"]
    lines += [
        "",
        "| cold start (median) | spawn to ready ms | imports ms | first request ms | exit ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    labels = {
        "python": "interpreter only",
        "baseline": "import chalice + pymysql",
        "chalice": "handler module + first request",
        "flask": "Flask peer + first request",
    }
    for kind, label in labels.items():
        row = cold[kind]
        lines.append(
            f"| {label} | {row['ready_ms']:.1f} | {row['import_ms']:.1f} "
            f"| {row['first_request_ms']:.1f} | {row['exit_ms']:.1f} |"
        )
    ratios = cold["ratios"]
    lines += [
        "",
        "| DB_AUTH mode (fresh process each) | init ms | first request ms | total ms |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| `{mode}` | {row['init_ms']:.1f} | {row['first_request_ms']:.1f} "
            f"| {row['init_ms'] + row['first_request_ms']:.1f} |"
            for mode, row in cold["auth_modes"].items()
        ),
        "",
        "`iam` is how the API runs in AWS: the init loads the IAM signer (botocore and the RDS "
        "model), the first request signs a token (stand-in credentials, no network; the local "
        "login then uses the password). With SnapStart the init runs once, when the version is "
        "published; a restored environment pays only the first request (informational).",
        "",
        f"Cold start ratios: handler / chalice+pymysql = {ratios['chalice_to_baseline']:.2f}, "
        f"handler / Flask peer = {ratios['chalice_to_flask']:.2f}; imports only: "
        f"{ratios['chalice_import_to_baseline_import']:.2f} and "
        f"{ratios['chalice_import_to_flask_import']:.2f}.",
        "",
        "| target | value | verdict |",
        "| --- | ---: | --- |",
    ]
    for target in results["targets"]:
        lines.append(
            f"| {target['description']} | {_show(target['value'])} | {verdict(target['met'])} |"
        )
    return "\n".join(lines)


def _show(value):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}"


def plot(results, path):
    import matplotlib  # noqa: PLC0415 -- heavy; only the report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- after choosing the Agg backend

    sizes = [entry["size"] for entry in results["warm"]]
    # Two panels: p99 on a loaded shared machine is an order of magnitude above p50.
    figure, panels = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    colours = {
        "raw": "tab:gray",
        "chalice": "tab:blue",
        "flask": "tab:orange",
        "chalice_bare": "tab:green",
    }
    for axes, key, title in zip(panels, ("p50_us", "p99_us"), ("p50", "p99"), strict=True):
        for name in CONTENDERS:
            values = [entry["contenders"][name][key] for entry in results["warm"]]
            axes.plot(sizes, values, "o-", color=colours[name], label=name)
        axes.set_xscale("log")
        axes.set_xlabel("pets in the table")
        axes.set_ylabel(f"{title} latency per lookup (µs)")
        axes.set_ylim(bottom=0)
        axes.set_title(f"{title}, warm, in-process, local MariaDB")
        axes.grid(True, which="both", alpha=0.3)
    panels[0].legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_sweep(results, path):
    """Throughput, latency and connections held against warm containers, API and raw."""
    import matplotlib  # noqa: PLC0415 -- heavy; only the report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- after choosing the Agg backend

    levels = results["sweep"]["levels"]
    containers = [entry["containers"] for entry in levels]
    colours = {"raw": "tab:gray", "api": "tab:blue"}
    labels = {"raw": "raw lookup", "api": "API (Chalice handler)"}
    figure, (rate, latency, held) = plt.subplots(1, 3, figsize=(14, 4.2), dpi=110)
    for kind in ("raw", "api"):
        rows = [entry[kind] for entry in levels]
        rate.plot(containers, [r["throughput_rps"] for r in rows], "o-", color=colours[kind],
                  label=labels[kind])  # fmt: skip
        latency.plot(containers, [r["p50_us"] for r in rows], "o-", color=colours[kind],
                     label=f"{labels[kind]} p50")  # fmt: skip
        latency.plot(containers, [r["p99_us"] for r in rows], "o--", color=colours[kind],
                     label=f"{labels[kind]} p99")  # fmt: skip
        held.plot(containers, [r["connections_held"] for r in rows], "o-", color=colours[kind],
                  label=labels[kind])  # fmt: skip
    held.plot(containers, containers, ":", color="black", label="one per container")
    saturates = results["sweep"]["summary"]["saturates_at"]
    if saturates:
        rate.axvline(saturates, color="tab:red", alpha=0.5, linestyle=":")
        rate.annotate(f"saturated after {saturates}", (saturates, 0), xytext=(4, 8),
                      textcoords="offset points", color="tab:red", fontsize="small")  # fmt: skip
    for axes, ylabel, title in (
        (rate, "lookups per second, all containers", "throughput"),
        (latency, "latency per lookup (µs)", "p50 and p99"),
        (held, "connections the server holds", "connections held"),
    ):
        axes.set_xscale("log", base=2)
        axes.set_xticks(containers, [str(c) for c in containers])
        axes.set_xlabel("warm containers (one process and one connection each)")
        axes.set_ylabel(ylabel)
        axes.set_title(f"{title}, {results['machine']['cores']} cores, local MariaDB")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    latency.set_yscale("log")
    rate.set_ylim(bottom=0)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_json(results, path):
    Path(path).write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def generated_block(results, plot_name):
    m = results["machine"]
    config = results["config"]
    package = results["package"]
    package_line = (
        f"API zip: **{package['bytes']:,} bytes ({package['kb']} KB)**, from {package['how']}; "
        f"{package['pyc_files']} .pyc file(s) in it."
        if package.get("bytes") is not None
        else f"API zip: not measured ({package['how']})."
    )
    return "\n".join(
        [
            BEGIN,
            f"Run: {results['date']} ({results['mode']} mode), `python -m bench`.",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, {m['os']}, "
            f"Python {m['python']}, {m['database']}; load average at start "
            f"{', '.join(str(x) for x in m['load_average_at_start'])} (shared machine).",
            f"Warm path: {config['rounds']:,} interleaved rounds per size in {config['repeats']} "
            f"blocks after {config['warmup']:,} warm-up rounds; figures are medians over blocks.",
            f"Cold start: {config['cold_repeats']} fresh processes per kind, medians.",
            "",
            f"![Warm lookup latency against table size]({plot_name})",
            "",
            table(results),
            "",
            f"Connections opened per 1,000 warm requests: chalice "
            f"{results['connections']['chalice']['new_per_1000']}, flask "
            f"{results['connections']['flask']['new_per_1000']}.",
            "",
            "#### Concurrency sweep",
            "",
            f"{config['sweep_blocks']} blocks of {config['sweep_seconds']:g} s per level and "
            "contender, alternating, medians over blocks; every container a forked process with "
            f"its own connection; {config['sweep_pets']:,} pets (bench/sweep.py).",
            "",
            f"![Throughput, latency and connections against warm containers]({SWEEP_PLOT})",
            "",
            sweep_table(results),
            "",
            package_line,
            "",
            *profile_section(results),
            END,
        ]
    )


def profile_section(results):
    """The warm-path profile and the cold-start imports, as Markdown lines."""
    profile = results.get("profile") or {}
    lines = []
    if profile.get("warm_chalice"):
        lines += [
            "#### Warm path of the Chalice handler (pyinstrument, wall clock, 1,000 pets)",
            "",
            "```text",
            *_trim_pyinstrument(profile["warm_chalice"]),
            "```",
            "",
        ]
    if profile.get("app_imports"):
        lines += [
            "#### What the handler module imports beyond chalice and pymysql "
            "(`-X importtime`, medians)",
            "",
            "| module (indented under its importer) | self µs | cumulative µs |",
            "| --- | ---: | ---: |",
        ]
        for row in profile["app_imports"]:
            name = row["module"].replace(" ", "&nbsp;")
            lines.append(f"| {name} | {row['self_us']:,.0f} | {row['cumulative_us']:,.0f} |")
    return lines


def _trim_pyinstrument(text):
    # Drop the banner and the blank lines around it; keep the call tree.
    lines = text.strip("\n").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Profile at")), -1) + 1
    return [line.rstrip() for line in lines[start:] if line.strip()]


def write_doc(results, path, plot_name):
    path = Path(path)
    block = generated_block(results, plot_name)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block + tail, encoding="utf-8")
            return
    path.write_text("# Performance\n\n" + block + "\n", encoding="utf-8")
