"""The whole demo without a browser: bootstrap, start, replay, compare, promote, roll back."""

import json
import os
import subprocess
import sys

import pytest
from support import ROOT

from staging import Sandbox, SandboxHome


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    home = tmp_path_factory.mktemp("headless-home")
    out = subprocess.run([sys.executable, "-m", "staging", "demo", "--backend", "process", "--requests", "300",
                          "--json", "--home", str(home)], cwd=ROOT, capture_output=True, text=True, timeout=400,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    return home, json.loads(out.stdout)


def test_demo_prints_real_numbers(demo_output):
    _, summary = demo_output
    assert summary["backend"] == "process" and summary["requests"] == 300 and summary["status"] == "finished"
    assert 0.5 < summary["agreement"] < 1.0  # different algorithms on different periods disagree somewhere
    assert "age" in summary["drifted_features"] and "loan_amount" in summary["drifted_features"]
    assert isinstance(summary["dataset_drift"], bool)
    for role in ("champion", "challenger"):
        model = summary[role]
        assert 0 < model["p50_ms"] <= model["p95_ms"] <= model["p99_ms"]
        assert model["error_rate"] == 0.0 and 0.5 < model["accuracy"] < 1.0
    assert summary["champion"]["version"] != summary["challenger"]["version"]


def test_the_run_is_there_for_the_app_and_can_be_promoted_and_rolled_back(demo_output):
    home, summary = demo_output
    box = Sandbox(SandboxHome(home))
    try:
        analysis = box.evidence(summary["run_id"])
        assert analysis.agreement.rate == pytest.approx(summary["agreement"])
        box.promote(analysis, "reviewer", "demo sign-off", confirmed=True, override=True)
        assert box.registry.aliases("credit-default")["champion"] == summary["challenger"]["version"]
        box.rollback("credit-default", "reviewer", "demo rollback")
        assert box.registry.aliases("credit-default")["champion"] == summary["champion"]["version"]
    finally:
        box.close()
    assert not list((home / "servers").glob("*.json")), "the demo left servers running"
