"""The run store keeps every answered row, even when the app dies mid-run."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from staging import SandboxHome
from staging.errors import RunError
from staging.runs import RunManifest, RunStore, RunSummary, RunWriter, TrafficRecord


def _manifest() -> RunManifest:
    return RunManifest(run_id="", model_name="m", models={}, backend="process", features=("x",),
                       task="classification", target=None, numeric=("x",), categorical=(),
                       traffic=TrafficRecord(path="traffic.csv", sha256="0" * 64))


def _row(run_id, i, target="champion"):
    return {"run_id": run_id, "request_id": f"q{i}", "target": target, "intended_send": 1.0, "actual_send": 1.0,
            "latency_ms": 5.0, "status": 200, "prediction": "1", "score": 0.7, "probabilities": "", "error": ""}


def test_rows_are_readable_while_running_and_after_finish(tmp_path):
    store = RunStore(SandboxHome(tmp_path))
    folder = store.create(_manifest(), pd.DataFrame({"request_id": ["q0"]}), pd.DataFrame())
    writer = RunWriter(folder, store.manifest(folder.name))
    for i in range(3):
        writer.append(_row(writer.run_id, i))
    assert len(store.results(writer.run_id)) == 3  # from the journal, before the end
    assert store.manifest(writer.run_id).status == "running"
    manifest = writer.finish("finished", summary=RunSummary(requests=3))
    assert manifest.rows == 3 and manifest.status == "finished"
    assert (tmp_path / "runs" / writer.run_id / "results.parquet").exists()
    assert store.results(writer.run_id)["request_id"].tolist() == ["q0", "q1", "q2"]
    assert store.list_runs()[0].run_id == writer.run_id


CRASHING_APP = """
import os
import pandas as pd
from staging import SandboxHome
from staging.runs import RunManifest, RunStore, RunWriter, TrafficRecord
store = RunStore(SandboxHome({home!r}))
manifest = RunManifest(run_id="", model_name="m", models={{}}, backend="process", features=("x",),
                       task="classification", target=None, numeric=("x",), categorical=(),
                       traffic=TrafficRecord(path="traffic.csv", sha256="0" * 64))
folder = store.create(manifest, pd.DataFrame({{"request_id": ["q0"]}}), pd.DataFrame())
writer = RunWriter(folder, store.manifest(folder.name))
print(writer.run_id, flush=True)
for i in range(5):
    writer.append({{"run_id": writer.run_id, "request_id": f"q{{i}}", "target": "champion", "status": 200}})
with open(folder / "results.jsonl", "a") as journal:
    journal.write('{{"run_id": "cut sh')  # the crash comes mid-line
os._exit(9)
"""


def test_a_run_whose_app_died_keeps_its_rows_and_reads_as_failed(tmp_path):
    out = subprocess.run([sys.executable, "-c", CRASHING_APP.format(home=str(tmp_path))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    store = RunStore(SandboxHome(tmp_path))
    manifest = store.manifest(out.stdout.strip())
    assert manifest.status == "failed" and "app stopped" in manifest.end_reason
    assert store.results(manifest.run_id)["request_id"].tolist() == [f"q{i}" for i in range(5)]


def test_unknown_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="no run 'nope'"):
        RunStore(SandboxHome(tmp_path)).manifest("nope")


def test_manifest_is_valid_json_with_code_version(tmp_path):
    store = RunStore(SandboxHome(tmp_path))
    folder = store.create(_manifest(), pd.DataFrame({"request_id": []}), pd.DataFrame())
    data = json.loads((folder / "manifest.json").read_text())
    assert data["code_version"] and data["owner_pid"] and data["status"] == "running"
