"""Durability against the unlucky: a kill -9 while a run's answers are being compacted, a
replay worker that dies before its first checkpoint, and a ground-truth file with a torn line.
Nothing answered is lost, no run stays "running" for ever, and the labels that can be read are."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

from staging import SandboxHome
from staging.replay.handle import start_replay
from staging.runs import RunManifest, RunStore, TrafficRecord
from staging.traffic.labels import check_labels, join_labels

ROWS = 200_000

COMPACTING_APP = """
import pandas as pd
from staging import SandboxHome
from staging.runs import RunManifest, RunStore, RunWriter, TrafficRecord
store = RunStore(SandboxHome({home!r}))
manifest = RunManifest(run_id="", model_name="m", models={{}}, backend="process", features=("x",),
                       task="classification", target=None, numeric=("x",), categorical=(),
                       traffic=TrafficRecord(path="traffic.csv", sha256="0" * 64))
folder = store.create(manifest, pd.DataFrame({{"request_id": ["q0"]}}), pd.DataFrame())
writer = RunWriter(folder, store.manifest(folder.name))
for i in range({rows}):
    writer.append({{"run_id": writer.run_id, "request_id": f"q{{i}}", "target": "champion", "status": 200,
                   "latency_ms": 5.0, "prediction": "1", "score": 0.5, "error": ""}})
print(writer.run_id, flush=True)
writer.finish("finished")
"""


def test_a_kill_during_compaction_loses_no_answer(tmp_path):
    app = subprocess.Popen([sys.executable, "-c", COMPACTING_APP.format(home=str(tmp_path), rows=ROWS)],
                           stdout=subprocess.PIPE, text=True)
    run_id = app.stdout.readline().strip()
    folder = tmp_path / "runs" / run_id
    deadline = time.monotonic() + 60
    while not (folder / "results.parquet.partial").exists() and app.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    killed_mid_compaction = app.poll() is None and (folder / "results.parquet.partial").exists()
    os.kill(app.pid, signal.SIGKILL)
    app.wait()
    store = RunStore(SandboxHome(tmp_path))
    results = store.results(run_id)
    assert len(results) == ROWS and results["request_id"].is_unique
    if killed_mid_compaction:  # half a Parquet file never takes the journal's place
        assert not (folder / "results.parquet").exists()
    assert store.manifest(run_id).status == "failed"  # its app died: failed, with every row kept


def test_a_damaged_results_file_falls_back_to_the_journal(tmp_path):
    app = subprocess.run([sys.executable, "-c", COMPACTING_APP.format(home=str(tmp_path), rows=50)],
                         capture_output=True, text=True, timeout=120)
    run_id = app.stdout.strip()
    results = tmp_path / "runs" / run_id / "results.parquet"
    results.write_bytes(results.read_bytes()[: len(results.read_bytes()) // 2])  # torn by something else
    assert len(RunStore(SandboxHome(tmp_path)).results(run_id)) == 50


def test_a_worker_that_dies_before_its_first_checkpoint_closes_its_run_as_failed(tmp_path):
    store = RunStore(SandboxHome(tmp_path))
    manifest = RunManifest(run_id="", model_name="m", models={}, backend="process", features=("x",),
                           task="classification", target=None, numeric=("x",), categorical=(),
                           traffic=TrafficRecord(path="traffic.csv", sha256="0" * 64))
    folder = store.create(manifest, pd.DataFrame({"request_id": ["q0"], "x": [1.0]}), pd.DataFrame())
    handle = start_replay(folder, total=1)
    os.kill(handle.process.pid, signal.SIGKILL)  # before Python has even imported the worker
    progress = handle.wait(30)
    assert progress.status == "failed" and "worker stopped" in progress.reason
    on_disk = store.manifest(folder.name)
    assert on_disk.status == "failed" and "worker stopped" in on_disk.end_reason  # not "running" for ever


def test_ground_truth_with_a_torn_line_keeps_what_can_be_read(tmp_path):
    path = tmp_path / "truth.jsonl"
    lines = [{"groundTruthData": {"data": "1.0", "encoding": "CSV"}, "eventMetadata": {"eventId": "e1",
                                                                                      "inferenceId": "a"}},
             {"groundTruthData": {"data": "0.0", "encoding": "CSV"}, "eventMetadata": {"eventId": "e2"}},
             {"groundTruthData": {"data": "1\n0", "encoding": "CSV"}, "eventMetadata": {"inferenceId": "m"}}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"groundTruthData": {"da')
    labels = check_labels(path, "default")
    assert labels.unreadable_lines == 1
    requests = pd.DataFrame({"request_id": ["a", "b", "m#0", "m#1"], "_event_id": [None, "e2", None, None]})
    joined, facts = join_labels(labels, requests)
    truth = dict(zip(joined["request_id"], joined["default"], strict=True))
    assert truth == {"a": 1, "b": 0, "m#0": 1, "m#1": 0}  # numbers, not the text "1.0"; one label a row
    assert facts["matched"] == 4 and facts["unreadable_lines"] == 1
