"""The run store: one folder per replay run under the sandbox home, append-only.

    runs/<run_id>/manifest.json          the `RunManifest` as JSON (written atomically)
    runs/<run_id>/requests.parquet       the validated requests that were replayed
    runs/<run_id>/quarantine.parquet     rows kept aside, with their reason
    runs/<run_id>/results.jsonl          the journal: one line per answer, flushed as it arrives
    runs/<run_id>/results.parquet        the same rows, compacted when the run ends
    runs/<run_id>/labels.parquet         SageMaker ground truth joined when the run started
    runs/<run_id>/reference_scores.parquet  each model's answers on the training reference
    runs/<run_id>/evidence.pkl           the computed evidence, a cache (see `staging.evidence`)
    runs/<run_id>/replay.log             the worker's output

A crash or a closed browser loses nothing that was answered: the journal is written and
flushed row by row, and a run whose app died is still readable from it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ..cells import cell_text
from ..errors import RunError
from ..files import atomic_write, process_alive
from ..home import SandboxHome
from ..tables import read_parquet_lean
from .folder import (
    JOURNAL,
    MANIFEST,
    QUARANTINE,
    REFERENCE_SCORES,
    REFERENCE_SCORES_ERROR,
    REQUESTS,
    RESOURCES,
    RESULTS,
)
from .journal import JournalWriter, compact_journal, read_journal
from .manifest import STATUSES, RunManifest, RunSummary


def code_version() -> str:
    root = Path(__file__).resolve().parents[2]
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


def write_manifest(folder: Path, manifest: RunManifest) -> None:
    """The manifest written beside, then renamed over the old one: never half a file."""
    atomic_write(folder / MANIFEST, json.dumps(manifest.to_json(), indent=2, default=str))


def read_manifest(folder: Path) -> RunManifest:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"The manifest of run {folder.name} cannot be read ({exc}).",
                       hint="The run folder may be damaged; start a new replay.") from exc
    return RunManifest.from_json(data)


class RunWriter:
    """Appends result rows of one run and closes it with a final status."""

    def __init__(self, folder: Path, manifest: RunManifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self._journal = JournalWriter(folder / JOURNAL)

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def rows_written(self) -> int:
        return self._journal.rows_written

    def append(self, row: dict[str, Any]) -> None:
        self._journal.append(row)

    def append_columns(self, shared: dict[str, Any], columns: dict[str, list]) -> None:
        self._journal.append_columns(shared, columns)

    def checkpoint(self) -> None:
        """Write the manifest as it stands (the run is still going)."""
        write_manifest(self.folder, self.manifest)

    def finish(self, status: str, reason: str = "", summary: RunSummary | None = None) -> RunManifest:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self._journal.close()
        rows = compact_journal(self.folder / JOURNAL, self.folder / RESULTS)
        self.manifest = self.manifest.replace(status=status, end_reason=reason, ended_at=time.time(), rows=rows,
                                              summary=summary or RunSummary())
        write_manifest(self.folder, self.manifest)
        return self.manifest


class RunStore:
    """The runs under one sandbox home: create, read, list."""

    def __init__(self, home: SandboxHome) -> None:
        self.home = home.ensure()
        self.root = home.runs_dir

    @classmethod
    def of_run_folder(cls, folder: Path) -> RunStore:
        """The store a run folder belongs to: the worker is handed a folder, and the home's
        layout is known only to `SandboxHome`."""
        return cls(SandboxHome.with_runs_dir(Path(folder).resolve().parent))

    def create(self, manifest: RunManifest, requests: pd.DataFrame, quarantine: pd.DataFrame) -> Path:
        """A new run folder with its manifest and requests; returns the folder."""
        run_id = manifest.run_id or new_run_id()
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=False)
        manifest = manifest.replace(run_id=run_id, status="running", started_at=time.time(), owner_pid=os.getpid(),
                                    code_version=code_version())
        try:
            requests.to_parquet(folder / REQUESTS, index=False)
            # as text that never raises: a refused row may hold bytes, huge integers or records
            quarantine.map(cell_text).rename(columns=str).to_parquet(folder / QUARANTINE, index=False)
            write_manifest(folder, manifest)
        except BaseException:  # no half-made run left behind: a folder without a manifest is no run
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def update_manifest(self, run_id: str, **fields: Any) -> RunManifest:
        """Set fields of a run's manifest before its worker starts (written atomically)."""
        folder = self.folder(run_id)
        manifest = read_manifest(folder).replace(**fields)
        write_manifest(folder, manifest)
        return manifest

    def folder(self, run_id: str) -> Path:
        folder = self.root / run_id
        if not (folder / MANIFEST).exists():
            raise RunError(f"There is no run '{run_id}' in {self.root}.", hint="Pick a run from the list.")
        return folder

    def manifest(self, run_id: str) -> RunManifest:
        manifest = read_manifest(self.folder(run_id))
        if manifest.running and not process_alive(manifest.owner_pid):
            manifest = manifest.replace(
                status="failed", end_reason="The app stopped during the run; every answer received before that is kept.")
        return manifest

    def list_runs(self) -> list[RunManifest]:
        manifests = []
        for path in self.root.glob(f"*/{MANIFEST}"):
            try:
                manifests.append(self.manifest(path.parent.name))
            except RunError:
                continue
        return sorted(manifests, key=lambda m: m.started_at, reverse=True)

    def results(self, run_id: str) -> pd.DataFrame:
        """The run's answers: the compacted file, or the journal it was made from when there is
        none yet, or when it cannot be read (the journal is the record; the file only a copy)."""
        folder = self.folder(run_id)
        if (folder / RESULTS).exists():
            try:
                return read_parquet_lean(folder / RESULTS)
            except (OSError, ValueError, pa.ArrowException):
                if not (folder / JOURNAL).exists():
                    raise RunError(f"The answers of run {run_id} cannot be read: {RESULTS} is damaged and the "
                                   "journal is gone.", hint="Replay the traffic again.") from None
        return read_journal(folder / JOURNAL)

    def requests(self, run_id: str) -> pd.DataFrame:
        return read_parquet_lean(self.folder(run_id) / REQUESTS)

    def reference_scores(self, run_id: str) -> pd.DataFrame | None:
        """Each model's answers on the training reference (for prediction drift), if scored."""
        path = self.folder(run_id) / REFERENCE_SCORES
        return read_parquet_lean(path) if path.exists() else None

    def reference_scores_error(self, run_id: str) -> str:
        """Why the models could not score the training reference ("" when they could, or did not try)."""
        path = self.folder(run_id) / REFERENCE_SCORES_ERROR
        return path.read_text() if path.exists() else ""

    def resources(self, run_id: str) -> tuple[pd.DataFrame, str]:
        """Each model server's CPU (cores) and memory (MB) over the replay, second by second, and
        why there is none when the table is empty."""
        try:
            data = json.loads((self.folder(run_id) / RESOURCES).read_text())
        except (OSError, ValueError):
            return pd.DataFrame(columns=["t_s", "model", "cpu_cores", "memory_mb"]), "not recorded for this run"
        rows = pd.DataFrame(data.get("rows") or [], columns=["t_s", "model", "cpu_cores", "memory_mb"])
        return rows, str(data.get("note") or "")

    def reference_scores_cache(self) -> Path:
        """Where answers on a reference are kept across runs, per model version and file."""
        folder = self.home.root / "reference_scores"
        folder.mkdir(exist_ok=True)
        return folder


