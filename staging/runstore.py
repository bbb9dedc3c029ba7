"""The run store: one folder per replay run under the sandbox home, append-only.

    runs/<run_id>/manifest.json     model URIs and versions, traffic file and SHA-256,
                                    settings, start and end time, code version, status
    runs/<run_id>/requests.parquet  the validated requests that were replayed
    runs/<run_id>/quarantine.parquet  rows kept aside, with their reason
    runs/<run_id>/results.jsonl     one line per answer, flushed as it arrives
    runs/<run_id>/results.parquet   the same rows, compacted when the run ends

A crash or a closed browser loses nothing that was answered: the journal is written and
flushed row by row, and a run whose app died is still readable from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import RunError
from .home import SandboxHome
from .tables import read_parquet_lean

STATUSES = ("running", "finished", "cancelled", "failed", "degraded", "aborted")
RESULT_COLUMNS = ["run_id", "request_id", "target", "intended_send", "actual_send", "latency_ms", "service_ms", "status",
                  "prediction", "score", "probabilities", "error"]


def code_version() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "unknown"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


class RunWriter:
    """Appends result rows of one run and closes it with a final status."""

    def __init__(self, folder: Path, manifest: dict | None = None) -> None:
        self.folder = folder
        self.manifest = manifest or json.loads((folder / "manifest.json").read_text())
        self._journal = open(folder / "results.jsonl", "a", encoding="utf-8")
        self.rows_written = 0

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def append(self, row: dict) -> None:
        self._journal.write(json.dumps(row, default=_json_default) + "\n")
        self._journal.flush()
        self.rows_written += 1

    def append_columns(self, shared: dict, columns: dict[str, list]) -> None:
        """The rows of one batch answer as one line: what they share, then a list per column
        (one JSON encoding per batch, not per row). Compaction expands it into rows."""
        self._journal.write(json.dumps({**shared, "_columns": columns}, default=_json_default) + "\n")
        self._journal.flush()
        self.rows_written += len(next(iter(columns.values()), []))

    def checkpoint(self) -> None:
        """Write the manifest as it stands (the run is still going)."""
        _write_json_atomic(self.folder / "manifest.json", self.manifest)

    def finish(self, status: str, reason: str = "", summary: dict | None = None) -> dict:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self._journal.close()
        rows = compact_journal(self.folder / "results.jsonl", self.folder / "results.parquet")
        self.manifest.update(status=status, end_reason=reason, ended_at=time.time(), rows=rows,
                             summary=summary or {})
        _write_json_atomic(self.folder / "manifest.json", self.manifest)
        return self.manifest


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


JOURNAL_CHUNK = 100_000


def _journal_chunks(path: Path):
    """The journal's rows, `JOURNAL_CHUNK` at a time as frames; a last line cut short by a
    crash is skipped."""
    rows, batches, count = [], [], 0
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "_columns" in record:  # a batch answer: shared fields and one list per column
                    columns = record.pop("_columns")
                    batches.append(pd.DataFrame({**columns, **{k: [v] * len(columns["request_id"])
                                                               for k, v in record.items()}}))
                    count += len(columns["request_id"])
                else:
                    rows.append(record)
                    count += 1
                if count >= JOURNAL_CHUNK:
                    yield _result_frame(rows, batches)
                    rows, batches, count = [], [], 0
    if rows or batches:
        yield _result_frame(rows, batches)


def _result_frame(rows: list[dict], batches: list[pd.DataFrame] = ()) -> pd.DataFrame:
    frames = [pd.DataFrame(rows, columns=RESULT_COLUMNS)] + [b.reindex(columns=RESULT_COLUMNS) for b in batches]
    frame = pd.concat(frames, ignore_index=True) if batches else frames[0]
    return frame.astype({"latency_ms": float, "service_ms": float, "score": float, "intended_send": float,
                         "actual_send": float, "status": "int64", "run_id": "str", "request_id": "str",
                         "target": "str", "prediction": "str", "probabilities": "str", "error": "str"})


def read_journal(path: Path) -> pd.DataFrame:
    """Rows of a journal (a run still going, or one whose app died before compacting it)."""
    frames = list(_journal_chunks(path))
    return pd.concat(frames, ignore_index=True) if frames else _result_frame([])


def compact_journal(journal: Path, target: Path) -> int:
    """The journal as Parquet, written a chunk at a time so that a run of millions of answers
    never sits in memory as Python objects all at once. Returns the number of rows."""
    writer, rows = None, 0
    try:
        for frame in _journal_chunks(journal):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += len(frame)
        if writer is None:
            _result_frame([]).to_parquet(target, index=False)
    finally:
        if writer is not None:
            writer.close()
    return rows


class RunStore:
    def __init__(self, home: SandboxHome) -> None:
        self.root = home.ensure().runs_dir

    def create(self, manifest: dict, requests: pd.DataFrame, quarantine: pd.DataFrame) -> Path:
        """A new run folder with its manifest and requests; returns the folder."""
        run_id = manifest.get("run_id") or new_run_id()
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=False)
        manifest = {**manifest, "run_id": run_id, "status": "running", "started_at": time.time(),
                    "owner_pid": os.getpid(), "code_version": code_version()}
        requests.to_parquet(folder / "requests.parquet", index=False)
        quarantine.astype(str).to_parquet(folder / "quarantine.parquet", index=False)
        _write_json_atomic(folder / "manifest.json", manifest)
        return folder

    def update_manifest(self, run_id: str, **fields) -> dict:
        """Set fields of a run's manifest before its worker starts (written atomically)."""
        folder = self._folder(run_id)
        manifest = {**json.loads((folder / "manifest.json").read_text()), **fields}
        _write_json_atomic(folder / "manifest.json", manifest)
        return manifest

    def folder(self, run_id: str) -> Path:
        return self._folder(run_id)

    def _folder(self, run_id: str) -> Path:
        folder = self.root / run_id
        if not (folder / "manifest.json").exists():
            raise RunError(f"There is no run '{run_id}' in {self.root}.", hint="Pick a run from the list.")
        return folder

    def manifest(self, run_id: str) -> dict:
        manifest = json.loads((self._folder(run_id) / "manifest.json").read_text())
        if manifest.get("status") == "running" and not _owner_alive(manifest.get("owner_pid")):
            manifest["status"] = "failed"
            manifest["end_reason"] = "The app stopped during the run; every answer received before that is kept."
        return manifest

    def list_runs(self) -> list[dict]:
        manifests = []
        for path in self.root.glob("*/manifest.json"):
            try:
                manifests.append(self.manifest(path.parent.name))
            except (OSError, json.JSONDecodeError, RunError):
                continue
        return sorted(manifests, key=lambda m: m.get("started_at", 0), reverse=True)

    def results(self, run_id: str) -> pd.DataFrame:
        folder = self._folder(run_id)
        if (folder / "results.parquet").exists():
            return read_parquet_lean(folder / "results.parquet")
        return read_journal(folder / "results.jsonl")

    def requests(self, run_id: str) -> pd.DataFrame:
        return read_parquet_lean(self._folder(run_id) / "requests.parquet")

    def reference_scores(self, run_id: str) -> pd.DataFrame | None:
        """Each model's answers on the training reference (for prediction drift), if scored."""
        path = self._folder(run_id) / "reference_scores.parquet"
        return read_parquet_lean(path) if path.exists() else None

    def quarantine(self, run_id: str) -> pd.DataFrame:
        return read_parquet_lean(self._folder(run_id) / "quarantine.parquet")


def _owner_alive(pid) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
