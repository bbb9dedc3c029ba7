"""The benches still print the keys their issues name: each bench runs in its quick mode (small
sizes or a handful of seeds, nothing kept in bench/results) and its JSON line must hold every
key the bench's kept figures hold, so that a change elsewhere cannot silently break a bench.
The benches that need model servers run in tests/servers/test_bench_quick.py; capacity, explain
and pipeline in their own tests."""

import json
import os
import subprocess
import sys

import pytest
from support import BENCHES_ON_SERVERS, ROOT

QUICK = {  # bench -> keys it must print besides those its kept figures hold
    "gate": ["aa_failed_rate_by_disagreement", "power_2pt_5k", "not_yet_rate_equal_models_2k",
             "labels_needed_accuracy", "drift_aa_any_column_rate", "drift_power_spread_1_6x",
             "latency_aa_warn_rate_spiky"],
    "report": ["report_1m_s", "report_1m_bytes", "report_1m_charts", "evidence_1m_s"],
    "drift": [], "sample_read": [], "traffic_read": [], "fence": [], "input_probe": ["tracebacks", "garbage_accepted"],
}


def quick_figures(bench: str) -> dict:
    """The bench run with --quick; its JSON line."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}.py"), "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def kept_keys(bench: str) -> set[str]:
    """The keys of the figures the bench keeps in bench/results (what the README's figures show)."""
    path = ROOT / "bench" / "results" / f"{bench}.json"
    return set(json.loads(path.read_text())["figures"]) if path.exists() else set()


@pytest.mark.parametrize("bench", sorted(QUICK))
def test_a_bench_in_its_quick_mode_prints_every_key(bench):
    figures = quick_figures(bench)
    assert sorted((set(QUICK[bench]) | kept_keys(bench)) - set(figures)) == []
    if bench == "gate":
        assert set(figures["aa_failed_rate_by_disagreement"]) == {"3%", "10%", "20%", "30%"}
        assert {"estimate", "simulated"} <= set(figures["labels_needed_accuracy"])


ELSEWHERE = {"capacity": "tests/servers/test_capacity_run.py", "explain": "tests/servers/test_explain.py",
             "pipeline": "tests/servers/test_object_storage.py"}  # bench -> the test that runs its quick mode


def test_every_bench_runs_in_a_quick_mode_in_ci():
    """A new bench cannot be left out: each script that publishes figures is run by some test."""
    benches = {path.stem for path in (ROOT / "bench").glob("*.py") if 'publish("' in path.read_text()}
    covered = set(QUICK) | set(BENCHES_ON_SERVERS) | set(ELSEWHERE)
    assert sorted(benches - covered) == []
    for bench, test in ELSEWHERE.items():
        source = (ROOT / test).read_text()
        assert f'"{bench}.py"' in source and '"--quick"' in source, (bench, test)
