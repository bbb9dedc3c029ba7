"""The watcher's queue on disk: one comparison per model at a time, the newest version wins.

`HOME/watch/queue.json` holds every job and its state (queued, running, done, superseded,
error), rewritten whole on each change (`atomic_write`), so a watcher killed at any moment
restarts with its queue: `resume` puts the job that was running back in line (it is run again
from the start: its half-written run reads as failed, and a new run is made). A job of a model
supersedes that model's queued jobs of older versions (a burst of registrations ends with the
newest compared, the rest marked superseded), and a running one, which the caller cancels.
`HOME/watch/deliveries.json` keeps the delivery ids already accepted, so a redelivery is
acknowledged and not run twice.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..files import atomic_write

QUEUED, RUNNING, DONE, SUPERSEDED, ERROR = "queued", "running", "done", "superseded", "error"
MAX_ATTEMPTS = 3  # a job interrupted this many times (the watcher killed while it ran) is given up
KEPT_DELIVERIES = 10_000


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _version_key(version: str) -> int:
    return int(version) if str(version).isdigit() else -1


@dataclass(frozen=True)
class Job:
    """One comparison to run: the model, the challenger version ("" for a scheduled one: whatever
    @challenger points at then), why it was queued, and what became of it."""

    id: str
    model: str
    version: str
    trigger: str  # "webhook" or "schedule"
    delivery_id: str = ""
    state: str = QUEUED
    queued_at: str = ""
    queued_epoch: float = 0.0
    started_at: str = ""
    ended_at: str = ""
    attempts: int = 0
    run_id: str = ""
    verdict: str = ""
    reason: str = ""

    @classmethod
    def new(cls, model: str, version: str, trigger: str, delivery_id: str = "") -> Job:
        return cls(uuid.uuid4().hex[:12], model, str(version), trigger, delivery_id, queued_at=_now(),
                   queued_epoch=time.time())


class ComparisonQueue:
    """The jobs under `folder`, safe to share between the receiver and the worker thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path, self.deliveries_path = self.folder / "queue.json", self.folder / "deliveries.json"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # -- on disk ----------------------------------------------------------------------------
    def _load(self) -> list[Job]:
        if not self.path.exists():
            return []
        names = {f.name for f in fields(Job)}
        return [Job(**{k: v for k, v in row.items() if k in names}) for row in json.loads(self.path.read_text())]

    def _save(self, jobs: list[Job]) -> None:
        atomic_write(self.path, json.dumps([asdict(job) for job in jobs], indent=1))

    def _seen(self) -> dict[str, str]:
        return json.loads(self.deliveries_path.read_text()) if self.deliveries_path.exists() else {}

    # -- what the receiver and the schedule do ----------------------------------------------
    def seen(self, delivery_id: str) -> bool:
        """Whether this delivery id was accepted before (a redelivery, acknowledged and not run)."""
        with self._lock:
            return delivery_id in self._seen()

    def remember(self, delivery_id: str) -> None:
        """Keep the id of a delivery acted on (after its job is queued, so a crash between the two
        at worst queues the redelivered job again, which the first one then supersedes)."""
        with self._lock:
            seen = self._seen()
            seen[delivery_id] = _now()
            atomic_write(self.deliveries_path, json.dumps(dict(list(seen.items())[-KEPT_DELIVERIES:])))

    def add(self, job: Job) -> tuple[Job, list[str]]:
        """Queue `job`; returns it as kept and the ids of running jobs it supersedes, for the
        caller to cancel. A webhook job is superseded at once by a queued or running job of the
        model with the same or a higher version; otherwise it supersedes every queued or running
        job of the model. A scheduled job waits behind nothing: it is dropped when any job of
        the model is queued or running."""
        with self._lock:
            jobs = self._load()
            mine = [j for j in jobs if j.model == job.model and j.state in (QUEUED, RUNNING)]
            if job.trigger == "schedule":
                blocking = mine
            else:
                blocking = [j for j in mine if j.version and _version_key(j.version) >= _version_key(job.version)]
            if blocking:
                newest = max(blocking, key=lambda j: _version_key(j.version))
                job = replace(job, state=SUPERSEDED, ended_at=_now(),
                              reason=f"a comparison of v{newest.version} was already queued" if newest.version
                              else "a comparison of the model was already queued")
                self._save(jobs + [job])
                return job, []
            cancel = []
            for index, other in enumerate(jobs):
                if other in mine:
                    jobs[index] = replace(other, state=SUPERSEDED, ended_at=_now(),
                                          reason=f"superseded by v{job.version}")
                    if other.state == RUNNING:
                        cancel.append(other.id)
            self._save(jobs + [job])
            self._changed.notify_all()
            return job, cancel

    # -- what the worker does ---------------------------------------------------------------
    def resume(self) -> list[Job]:
        """After a restart: jobs left running go back in line (given up after MAX_ATTEMPTS)."""
        with self._lock:
            jobs, resumed = self._load(), []
            for index, job in enumerate(jobs):
                if job.state != RUNNING:
                    continue
                if job.attempts >= MAX_ATTEMPTS:
                    jobs[index] = replace(job, state=ERROR, ended_at=_now(),
                                          reason=f"interrupted {job.attempts} times; given up")
                else:
                    jobs[index] = replace(job, state=QUEUED, reason="resumed after the watcher restarted")
                    resumed.append(jobs[index])
            self._save(jobs)
            return resumed

    def take(self, timeout: float, settle_s: float = 0.0) -> Job | None:
        """The oldest queued job that has waited `settle_s` (so that a burst of registrations
        settles on its newest first), now running; None when none is ready within `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                jobs = self._load()
                for index, job in enumerate(jobs):
                    if job.state == QUEUED and time.time() - job.queued_epoch >= settle_s:
                        jobs[index] = replace(job, state=RUNNING, started_at=_now(), attempts=job.attempts + 1)
                        self._save(jobs)
                        return jobs[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 0.5))

    def update(self, job_id: str, **changes: Any) -> Job | None:
        """Record a job's progress (its run id) or its end (state, verdict, reason); a job already
        superseded keeps that state."""
        with self._lock:
            jobs = self._load()
            for index, job in enumerate(jobs):
                if job.id == job_id:
                    if job.state == SUPERSEDED:
                        changes.pop("state", None)
                    if changes.get("state") in (DONE, SUPERSEDED, ERROR):
                        changes.setdefault("ended_at", _now())
                    jobs[index] = replace(job, **changes)
                    self._save(jobs)
                    return jobs[index]
            return None

    def state_of(self, job_id: str) -> str:
        return next((j.state for j in self.jobs() if j.id == job_id), "")

    def jobs(self, model: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._load() if model is None or j.model == model]
