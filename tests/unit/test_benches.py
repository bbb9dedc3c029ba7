"""The benches still print the keys their issues name: each bench that has a quick mode runs in
it (a handful of seeds, nothing kept in bench/results) and its JSON line is checked key by key,
so that a change elsewhere cannot silently break a bench."""

import json
import os
import subprocess
import sys

import pytest
from support import ROOT

QUICK = {
    "gate": (["--quick"], ["aa_failed_rate_by_disagreement", "power_2pt_5k", "not_yet_rate_equal_models_2k",
                           "labels_needed_accuracy", "drift_aa_any_column_rate", "drift_power_spread_1_6x",
                           "latency_aa_warn_rate_spiky"]),
}


@pytest.mark.parametrize("bench", sorted(QUICK))
def test_a_bench_in_its_quick_mode_prints_every_key(bench):
    arguments, keys = QUICK[bench]
    out = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}.py"), *arguments], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert [key for key in keys if key not in figures] == []
    if bench == "gate":
        assert set(figures["aa_failed_rate_by_disagreement"]) == {"3%", "10%", "20%", "30%"}
        assert {"estimate", "simulated"} <= set(figures["labels_needed_accuracy"])
