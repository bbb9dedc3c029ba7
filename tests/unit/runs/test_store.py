"""The run store keeps every answered row, even when the app dies mid-run."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from staging import SandboxHome
from staging.errors import RunError
from staging.runs import SCHEMA_VERSION, RunManifest, RunStore, RunSummary, RunWriter, TrafficRecord


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


FIRST_ROUND_MANIFEST = {  # as the first round wrote it: no schema_version, plain dicts
    "model_name": "credit-default", "backend": "process", "task": "classification", "target": "default",
    "models": {"champion": {"name": "credit-default", "version": "1", "alias": "champion",
                            "uri": "models:/credit-default/1", "endpoint": "http://127.0.0.1:5001"},
               "challenger": {"name": "credit-default", "version": "2", "alias": "challenger",
                              "uri": "models:/credit-default/2", "endpoint": "http://127.0.0.1:5002"}},
    "features": ["age", "housing"], "numeric": ["age"], "categorical": ["housing"],
    "traffic": {"path": "/data/traffic.parquet", "sha256": "a" * 64, "rows_read": 10, "rows_valid": 9,
                "rows_quarantined": 1, "validation": "Read as Parquet.", "replayed": 9},
    "selection": {"sample_size": 9, "seed": 0, "sample_percent": None, "start": None, "end": None},
    "settings": {"mode": "canary", "concurrency": 2, "timeout_s": 30.0, "warmup_requests": 5, "timing": "max",
                 "speed": 1.0, "rate_per_s": 50.0, "canary_steps": [10, 100], "canary_max_error_rate": 0.02,
                 "canary_max_p95_ratio": 1.5, "split_key": None, "challenger_share": 0.5, "batch_size": 1},
    "labels_path": None, "reference_path": None, "run_id": "20261101-120000-abcdef", "status": "aborted",
    "started_at": 1.0, "owner_pid": 1, "code_version": "e73c167", "end_reason": "Canary aborted at 100%.",
    "ended_at": 2.0, "rows": 12,
    "summary": {"requests": 9, "answers": 9, "errors": 3, "canary": [{"share": 10, "passed": True}]},
}


def test_a_first_round_manifest_still_opens(tmp_path):
    store = RunStore(SandboxHome(tmp_path))
    folder = tmp_path / "runs" / FIRST_ROUND_MANIFEST["run_id"]
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(FIRST_ROUND_MANIFEST))
    manifest = store.manifest(folder.name)
    assert manifest.schema_version == SCHEMA_VERSION  # upgraded as it is read
    assert manifest.mode == "canary" and manifest.settings.canary_steps == (10, 100) and manifest.split
    assert manifest.champion.version == "1" and manifest.challenger.endpoint.endswith("5002")
    assert manifest.traffic.name == "traffic.parquet" and manifest.summary.canary[0]["share"] == 10
    assert manifest.status == "aborted" and manifest.rows == 12


def test_a_manifest_survives_its_own_json(tmp_path):
    manifest = RunManifest.from_json(FIRST_ROUND_MANIFEST)
    again = RunManifest.from_json(json.loads(json.dumps(manifest.to_json())))
    assert again == manifest and again.to_json()["schema_version"] == SCHEMA_VERSION


def test_a_damaged_manifest_is_a_clear_error(tmp_path):
    folder = tmp_path / "runs" / "broken"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"run_id": "broken"}')
    with pytest.raises(RunError, match="cannot be read"):
        RunStore(SandboxHome(tmp_path)).manifest("broken")
    (folder / "manifest.json").write_text('{"run_id": "brok')
    assert RunStore(SandboxHome(tmp_path)).list_runs() == []


def test_wheelhouses_are_shared_by_the_machines_homes(tmp_path):
    from staging.settings import Settings

    env = {"STAGING_HOME": str(tmp_path / "a"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = SandboxHome.from_env(settings=Settings.from_env(env))
    second = SandboxHome.from_env(settings=Settings.from_env({**env, "STAGING_HOME": str(tmp_path / "b")}))
    assert first.root != second.root
    assert first.wheelhouses_dir == second.wheelhouses_dir == tmp_path / "cache" / "staging-sandbox" / "wheelhouses"
    chosen = Settings.from_env({**env, "STAGING_WHEEL_CACHE": str(tmp_path / "wheels")})
    assert SandboxHome.from_env(settings=chosen).wheelhouses_dir == tmp_path / "wheels"
    assert SandboxHome(tmp_path / "c").wheelhouses_dir == tmp_path / "c" / "wheelhouses"  # a bare home keeps its own
