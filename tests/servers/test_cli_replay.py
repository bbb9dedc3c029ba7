"""`python -m staging replay` from a terminal or a CI pipeline: a real replay against the
registered champion and challenger, a progress bar, one JSON summary, and the run in the app."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from support import ROOT

from staging import Sandbox
from staging.registry.scenarios import CREDIT


def replay_cli(home, *args, timeout=400):
    return subprocess.run([sys.executable, "-m", "staging", "replay", "--home", str(home), "--backend", "process",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_a_replay_from_the_command_line_lands_in_the_app(demo_home, tmp_path):
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    window = traffic[(traffic["timestamp"] >= "2026-10-19") & (traffic["timestamp"] < "2026-10-26")]
    path = tmp_path / "week3.csv"
    window.to_csv(path, index=False)
    out = replay_cli(demo_home.root, "--model", CREDIT.model_name, "--traffic", str(path), "--percent", "2",
                     "--start", "2026-10-20", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "finished" and summary["errors"] == 0
    expected = window[window["timestamp"] >= "2026-10-20"]
    assert 0 < summary["requests"] < len(expected) * 0.05  # about 2%, chosen by request id
    assert "Read as CSV" in summary["traffic"] and "quarantined" in summary["traffic"]
    assert "] " in out.stderr and "requests" in out.stderr  # the progress bar
    runs = {r.run_id: r for r in Sandbox(demo_home).runs(CREDIT.model_name)}
    manifest = runs[summary["run_id"]]
    assert manifest.selection.sample_percent == 2 and manifest.status == "finished"
    replayed = pd.read_parquet(Path(summary["run_folder"]) / "requests.parquet")
    assert replayed["timestamp"].min() >= pd.Timestamp("2026-10-20", tz="UTC")

    again = replay_cli(demo_home.root, "--model", CREDIT.model_name, "--traffic", str(path), "--percent", "2",
                       "--start", "2026-10-20", "--json")
    assert json.loads(again.stdout)["requests"] == summary["requests"]  # the same requests each time


def test_bad_input_exits_2_with_a_message_and_no_traceback(demo_home, tmp_path):
    out = replay_cli(demo_home.root, "--model", CREDIT.model_name, "--traffic", str(tmp_path / "missing.csv"),
                     timeout=200)
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
