"""The app's side of a replay: start the worker process, follow its progress, cancel, wait.

The app and the command line both call `start_replay`; the worker (`staging.replay.worker`)
writes the run. Progress is read from the run's journal as it grows (`JournalTail`), so the
app never shares an interpreter, or a GIL, with the loop that measures latency.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..errors import RunError
from ..runs import JournalTail, read_manifest, write_manifest
from ..runs.folder import JOURNAL, REPLAY_LOG
from .progress import ReplayProgress


class ReplayHandle:
    """A replay running in a worker process."""

    def __init__(self, run_id: str, folder: Path, process: subprocess.Popen, total: int, targets: int) -> None:
        self.run_id = run_id
        self.folder = folder
        self.process = process
        self.targets = targets
        self._progress = ReplayProgress(total=total)
        self._tail = JournalTail(folder / JOURNAL)

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
            self._read_new_rows()
            try:
                manifest = read_manifest(self.folder)
                status, reason = manifest.status, manifest.end_reason
            except RunError as exc:
                status, reason = "failed", exc.message
            if status == "running":  # the worker died before it could close the run: close it for the record
                status = "failed"
                reason = (f"The replay worker stopped (exit code {self.process.returncode}) before closing the run; "
                          f"every answer it wrote is kept, and its log is replay.log in the run folder.")
                try:
                    write_manifest(self.folder, read_manifest(self.folder).replace(
                        status=status, end_reason=reason, ended_at=time.time()))
                except RunError:
                    pass  # an unreadable manifest: the store reports the run as failed on its own
            self._progress.status, self._progress.reason, self._progress.finished = status, reason, True
        return self._progress

    @property
    def error(self) -> RunError | None:
        if not self.done or self.process.returncode == 0:
            return None
        log = (self.folder / REPLAY_LOG).read_text(errors="replace")[-3000:]
        return RunError(f"The replay worker of run {self.run_id} exited with code {self.process.returncode}.",
                        hint="Answers received before it stopped are kept; its log is below.", detail=log)

    def _read_new_rows(self) -> None:
        self._tail.read_new()
        self._progress.answers = self._tail.answers
        self._progress.errors = self._tail.errors
        self._progress.completed = self._tail.answers // self.targets


# The folder that holds the `staging` package: the worker starts there, so that `python -m`
# finds the very code this process runs, installed or not (the compose image runs from /app).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def start_replay(folder: Path, total: int, targets: int = 2) -> ReplayHandle:
    """Start the worker on a run folder prepared by `RunStore.create`."""
    with open(folder / REPLAY_LOG, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "staging.replay.worker", str(folder.resolve())],
                                   cwd=PACKAGE_PARENT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return ReplayHandle(folder.name, folder, process, total, targets)


class Followed(Protocol):
    """A worker process's handle: a replay's, or an explanation's."""

    @property
    def done(self) -> bool: ...

    @property
    def progress(self) -> Any: ...

    def wait(self, timeout: float | None = None) -> object: ...

    def cancel(self) -> None: ...


def follow(handle: Followed, on_progress: Callable[[Any], None] | None = None, every_s: float = 1.0) -> Any:
    """Block until the worker ends, reporting its progress; Ctrl-C cancels it cleanly (what it
    did is kept). Returns its last progress."""
    try:
        while not handle.done:
            handle.wait(every_s)
            if on_progress:
                on_progress(handle.progress)
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
    return handle.progress
