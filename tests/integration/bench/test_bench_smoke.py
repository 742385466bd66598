"""The benchmark's quick mode runs end to end and writes a well-formed results file.

``make bench`` takes minutes, so ``make test`` runs ``python -m bench --quick`` instead: tiny
tables, a few rounds, one cold start of each kind, output in a temporary folder (never the
committed bench/results.json or docs/performance.md). Timings on a shared machine say nothing
in a test, so none is asserted; the shape of the results is, so the benchmark cannot rot.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONTENDERS = {"raw", "chalice", "flask", "chalice_bare"}
TARGETS = {
    "handler_p50_vs_raw",
    "p50_largest_vs_smallest",
    "cold_vs_chalice_pymysql",
    "cold_vs_flask",
    "connections",
    "zip_size",
    "sweep_connections",
    "sweep_throughput",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    committed = {p: p.read_bytes() for p in _committed_outputs() if p.exists()}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done, committed


def _committed_outputs():
    return [REPO / "bench" / "results.json", REPO / "docs" / "performance.md"]


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_quick_mode_writes_results_plots_and_doc(quick_run):
    out, done, _ = quick_run
    for plot in ("performance.png", "performance-sweep.png"):
        assert (out / plot).read_bytes().startswith(b"\x89PNG")
        assert plot in (out / "performance.md").read_text(encoding="utf-8")
    assert "| target | value | verdict |" in done.stdout


def test_quick_mode_leaves_the_committed_results_alone(quick_run):
    _, _, committed = quick_run
    for path, content in committed.items():
        assert path.read_bytes() == content, path


def test_results_file_is_well_formed(quick_run):
    out, _, _ = quick_run
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["schema"] == 1
    assert results["mode"] == "quick"
    assert isinstance(results["date"], str)
    assert {"cpu", "cores", "python", "database"} <= results["machine"].keys()

    sizes = [entry["size"] for entry in results["warm"]]
    assert sizes == sorted(sizes) and len(sizes) >= 2
    for entry in results["warm"]:
        assert _number(entry["table_mb"])
        assert entry["contenders"].keys() == CONTENDERS
        for row in entry["contenders"].values():
            assert all(_number(row[k]) for k in ("p50_us", "p99_us", "ratio_p50_to_raw"))
            assert row["p99_us"] >= row["p50_us"] > 0
            assert row["samples"] > 0
        assert entry["contenders"]["raw"]["ratio_p50_to_raw"] == 1.0
    for name in CONTENDERS:
        assert _number(results["table_size"][name]["p50_ratio_largest_to_smallest"])

    cold = results["cold_start"]
    for kind in ("python", "baseline", "chalice", "flask"):
        assert all(
            _number(cold[kind][k]) for k in ("ready_ms", "import_ms", "first_request_ms", "exit_ms")
        )
        assert cold[kind]["runs"] >= 1
    assert all(_number(v) for v in cold["ratios"].values())
    # Both DB_AUTH modes served a first request; iam's init loaded the signer, password's not.
    modes = cold["auth_modes"]
    assert modes.keys() == {"password", "iam"}
    assert all(_number(v) and v > 0 for row in modes.values() for v in row.values())

    assert results["connections"].keys() == {"chalice", "flask"}
    for name in ("chalice", "flask"):
        connections = results["connections"][name]
        assert connections["requests"] > 0
        assert _number(connections["new_per_1000"])
        # Each warm container opened exactly one connection for all it served.
        assert connections["opened_since_start"] == 1

    package = results["package"]
    assert isinstance(package["how"], str)
    assert package["bytes"] is None or package["bytes"] > 0

    sweep = results["sweep"]
    assert [level["containers"] for level in sweep["levels"]] == [1, 2]
    for level in sweep["levels"]:
        for kind in ("raw", "api"):
            row = level[kind]
            assert row["throughput_rps"] > 0 and row["p99_us"] >= row["p50_us"] > 0
            # Each container is one process holding one connection, counted by the server.
            assert row["connections_held"] == row["connections_opened"] == level["containers"]
        assert _number(level["api_to_raw_throughput"])
    assert sweep["summary"]["connections_mismatched"] == []

    assert {t["id"] for t in results["targets"]} == TARGETS
    for target in results["targets"]:
        assert target["met"] in (True, False, None)
        assert isinstance(target["description"], str)
