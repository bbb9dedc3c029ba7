"""A capacity run through the command line on real MLflow servers (local processes): bad options
refused with exit 2 in one line before anything starts; the demo pair measured one model at a
time, A B A B, with the harness's ceiling, each model's sustainable rate, CPU and memory, cold
start and spike; the result then read by `gate --json` and the report."""

import json
import subprocess
import sys

import pytest

from staging.registry.scenarios import CREDIT


def staging(*args, home, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "staging", *args, "--home", str(home.root)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("options, fragment", [
    (["--objective", "p99:fast"], "PERCENTILE:MS"),
    (["--growth", "1"], "grow"),
    (["--spike-multiple", "0.5"], "spike"),
    (["--price-vcpu-hour", "0.05"], "currency"),
    (["--traffic", "/no/such/file.csv"], "does not exist"),
])
def test_bad_options_exit_2_in_one_line_before_any_server_starts(demo_home, options, fragment):
    out = staging("capacity", "--model", CREDIT.model_name, "--backend", "process", *options, home=demo_home,
                  timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("error: ") and fragment in out.stderr, out.stderr
    assert "starting" not in out.stderr and "Traceback" not in out.stderr


def test_a_model_without_traffic_is_refused_before_any_server(demo_home):
    out = staging("capacity", "--model", "no-such-model", "--backend", "process", home=demo_home, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr


def test_the_demo_pair_is_measured_one_at_a_time_and_read_by_the_gate_and_the_report(demo_home, finished_run,
                                                                                   tmp_path):
    out = staging("capacity", "--model", CREDIT.model_name, "--backend", "process", "--json", "--step-s", "1",
                  "--start-rate", "20", "--max-rate", "320", "--refine-steps", "1", "--spike-s", "1",
                  "--min-requests", "20",
                  "--price-vcpu-hour", "0.05", "--price-gb-hour", "0.005", "--currency", "USD",
                  "--peak-rate", "2000", home=demo_home)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["ceiling"]["rate"] > 200  # the harness outpaces what these models hold
    order = [line.split(": starting the ")[1].split(" ")[0] for line in out.stderr.splitlines()
             if ": starting the " in line]
    assert order == ["champion", "challenger", "champion", "challenger"]  # A B A B, each alone
    for role, model in result["models"].items():
        assert len(model["rates"]) == 2 and all(r and r > 0 for r in model["rates"]), (role, model["rates"])
        assert len(model["cold_start_s"]) == 2 and all(0 < c < 120 for c in model["cold_start_s"])
        used = [s["resources"] for s in model["steps"] if s["resources"]]
        assert used and all(u["memory_mb_peak"] > 50 for u in used)  # the server's own tree, read
        assert max(u["cpu_cores_mean"] for u in used) > 0.2
        assert model["sized_by"] == "use" and model["vcpus"] > 0
        spike = model["spike"]
        assert spike["peak_rate"] == pytest.approx(10 * spike["base_rate"]) and spike["sent_during"] > 0
        assert result["cost_per_1k"][role] > 0 and result["replicas_for_peak"][role] >= 1
    assert "The challenger holds" in result["conclusion"] and "USD" in result["conclusion"]

    gate = staging("gate", "--model", CREDIT.model_name, "--run", finished_run, "--json", "--report",
                   str(tmp_path / "report"), home=demo_home)
    assert gate.returncode in (0, 1, 5), gate.stderr[-2000:]
    verdict = json.loads(gate.stdout)
    names = [c["name"] for c in verdict["checks"]]
    assert "capacity: sustainable rate" in names and "capacity: spike errors" in names
    assert verdict["capacity"]["capacity_id"] == result["capacity_id"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<h2>Capacity</h2>" in html and "Throughput against tail latency" in html
    assert html.index("<h2>Capacity</h2>") < html.index("Throughput against tail latency")  # its chart in its section
    assert "could not be drawn" not in html


def test_the_capacity_bench_in_its_quick_mode_prints_every_key(demo_home):
    """bench/capacity.py --quick: tiny ramps, no containers; every key the issue names is printed."""
    import os

    from support import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "bench" / "capacity.py"), "--quick", "--home", str(demo_home.root)],
                         cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ["known_capacity_error_pct", "worker_ratio_error_pct", "harness_ceiling_ratio_vs_wrk", "capacity_run_s",
            "spike_recovery_s"]
    assert [key for key in keys if key not in figures] == []
    assert figures["harness_ceiling_ratio_vs_wrk"] > 0 and figures["known_capacity"]["1_worker"]["rate"] > 0
