"""Start a replay in its own worker process and follow it: progress, cancel, wait.

The app and the command line both call `start_replay`; the worker (`staging.replay`)
writes the run. Progress is read from the run's journal as it grows, so the app never
shares an interpreter, or a GIL, with the loop that measures latency.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from .errors import RunError
from .replay_engine import ReplayProgress

ROOT = Path(__file__).resolve().parent.parent


class ReplayHandle:
    """A replay running in a worker process."""

    def __init__(self, run_id: str, folder: Path, process: subprocess.Popen, total: int, targets: int) -> None:
        self.run_id = run_id
        self.folder = folder
        self.process = process
        self.targets = targets
        self._progress = ReplayProgress(total=total)
        self._offset = 0
        self._partial = b""

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    @property
    def done(self) -> bool:
        return self.process.poll() is not None

    def wait(self, timeout: float | None = None) -> ReplayProgress:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.progress

    @property
    def progress(self) -> ReplayProgress:
        self._read_new_rows()
        if self.done and not self._progress.finished:
            manifest = json.loads((self.folder / "manifest.json").read_text())
            self._read_new_rows()
            self._progress.status = manifest.get("status", "failed")
            self._progress.reason = manifest.get("end_reason", "")
            self._progress.finished = True
        return self._progress

    @property
    def error(self) -> RunError | None:
        if not self.done or self.process.returncode == 0:
            return None
        log = (self.folder / "replay.log").read_text(errors="replace")[-3000:]
        return RunError(f"The replay worker of run {self.run_id} exited with code {self.process.returncode}.",
                        hint="Answers received before it stopped are kept; its log is below.", detail=log)

    def _read_new_rows(self) -> None:
        path = self.folder / "results.jsonl"
        if not path.exists():
            return
        with open(path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        progress = self._progress
        for line in lines:
            rows = _rows_in(line)
            progress.answers += rows
            progress.errors += rows if b'"error": ""' not in line else 0
        progress.completed = progress.answers // self.targets


def _rows_in(line: bytes) -> int:
    """Answers in one journal line: one, or a batch's rows (a line cut short counts as none)."""
    if b'"_columns"' not in line:
        return 1
    try:
        return len(json.loads(line)["_columns"]["request_id"])
    except (ValueError, KeyError):
        return 0


def start_replay(folder: Path, total: int, targets: int = 2) -> ReplayHandle:
    """Start the worker on a run folder prepared by `RunStore.create`."""
    log = open(folder / "replay.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "staging.replay", str(folder)], cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                   p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)})
    log.close()
    return ReplayHandle(folder.name, folder, process, total, targets)


def follow(handle: ReplayHandle, on_progress=None, every_s: float = 1.0) -> ReplayProgress:
    """Block until the replay ends, reporting progress; Ctrl-C cancels it cleanly."""
    try:
        while not handle.done:
            handle.wait(every_s)
            if on_progress:
                on_progress(handle.progress)
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
    return handle.progress
