"""The replay engine: recorded requests sent to live endpoints, answers written as they come.

Shadow mode sends every request to both models at once; the champion's answer is the one
that would be served. The hot path is aiohttp on one event loop, with the request bodies
serialized once up front and shared by both targets. Which model is sent to first
alternates from request to request, a few warm-up requests per model are not recorded,
and nothing is retried: a failure is recorded as an error row.

The engine runs in a worker process of its own (`python -m staging.replay RUN_FOLDER`,
started by `staging.replay_runner`), so the app's page reruns and its browser cannot stall
the event loop that times the answers. SIGTERM cancels it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pandas as pd

from .endpoints import JSON_HEADERS, Endpoint
from .predictions import PredictionFormatError, parse_predictions
from .runstore import RunWriter
from .tables import read_parquet_lean
from .traffic import sha256_of


@dataclass(frozen=True)
class ReplaySettings:
    mode: str = "shadow"
    concurrency: int = 2  # requests in flight at once (each goes to both models)
    timeout_s: float = 30.0
    warmup_requests: int = 5


@dataclass
class ReplayProgress:
    """Live counters, read by the UI while the replay thread writes them."""

    total: int
    started_at: float = field(default_factory=time.monotonic)
    completed: int = 0  # requests answered by every target
    answers: int = 0
    errors: int = 0
    finished: bool = False
    status: str = "running"
    reason: str = ""

    @property
    def fraction(self) -> float:
        return self.completed / self.total if self.total else 1.0

    @property
    def throughput(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return self.answers / elapsed if elapsed > 0 else 0.0


def request_bodies(requests: pd.DataFrame, features: tuple[str, ...]) -> list[bytes]:
    """One `dataframe_split` body per recorded request, NaN sent as null."""
    values = requests[list(features)].astype(object).where(requests[list(features)].notna(), None)
    columns = list(features)
    return [json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}, default=_plain).encode()
            for row in values.itertuples(index=False, name=None)]


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class _Shadow:
    def __init__(self, endpoints: dict[str, Endpoint], writer: RunWriter, settings: ReplaySettings,
                 progress: ReplayProgress, cancel: threading.Event) -> None:
        self.endpoints = endpoints
        self.writer = writer
        self.settings = settings
        self.progress = progress
        self.cancel = cancel
        self.connection_failures = {role: 0 for role in endpoints}

    async def run(self, ids: list[str], bodies: list[bytes]) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=self.settings.concurrency + 1)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await self._warm_up(session, bodies)
            slots = asyncio.Semaphore(self.settings.concurrency)
            pending: set[asyncio.Task] = set()
            for index, (request_id, body) in enumerate(zip(ids, bodies)):
                await slots.acquire()
                if self.cancel.is_set():
                    slots.release()
                    break
                task = asyncio.create_task(self._one_request(session, index, request_id, body, time.time()))
                task.add_done_callback(lambda _t: slots.release())
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending)

    async def _warm_up(self, session: aiohttp.ClientSession, bodies: list[bytes]) -> None:
        for body in bodies[: self.settings.warmup_requests]:
            for endpoint in self.endpoints.values():
                try:
                    async with session.post(endpoint.invocations_url, data=body, headers=JSON_HEADERS) as response:
                        await response.read()
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass

    async def _one_request(self, session, index: int, request_id: str, body: bytes, intended: float) -> None:
        roles = list(self.endpoints)
        turn = index % len(roles)
        roles = roles[turn:] + roles[:turn]  # who is sent to first rotates from request to request
        rows = await asyncio.gather(*(self._send(session, role, request_id, body, intended) for role in roles))
        for row in rows:
            self.writer.append(row)
            self.progress.answers += 1
            self.progress.errors += bool(row["error"])
        self.progress.completed += 1

    async def _send(self, session, role: str, request_id: str, body: bytes, intended: float) -> dict:
        endpoint = self.endpoints[role]
        row = {"run_id": self.writer.run_id, "request_id": request_id, "target": role, "intended_send": intended,
               "actual_send": time.time(), "latency_ms": math.nan, "status": 0, "prediction": None,
               "score": math.nan, "probabilities": "", "error": ""}
        began = time.perf_counter()
        try:
            async with session.post(endpoint.invocations_url, data=body, headers=JSON_HEADERS) as response:
                payload = await response.read()
                row["latency_ms"] = (time.perf_counter() - began) * 1000
                row["status"] = response.status
        except asyncio.TimeoutError:
            row["error"] = f"timeout after {self.settings.timeout_s:g} s"
            return row
        except aiohttp.ClientError as exc:
            self.connection_failures[role] += 1
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            return row
        if row["status"] != 200:
            row["error"] = f"HTTP {row['status']}: {payload[:300].decode('utf-8', 'replace')}"
            return row
        try:
            prediction = parse_predictions(json.loads(payload))[0]
        except (ValueError, PredictionFormatError, IndexError) as exc:
            row["error"] = f"unreadable answer: {exc}"[:300]
            return row
        row.update(prediction=prediction.label, score=prediction.score,
                   probabilities=prediction.probabilities_json())
        return row


REFERENCE_SAMPLE = 2000


def score_reference(folder: Path, manifest: dict, endpoints: dict[str, Endpoint]) -> None:
    """Each model's answers on a sample of the training reference, for prediction drift.
    Computed once per model version and reference file, cached under the sandbox home, and
    done before the replay so it never competes with the timed requests. A failure here is
    logged and skipped: prediction drift is then not shown, the replay still runs."""
    path = manifest.get("reference_path")
    if not path or not Path(path).exists():
        return
    cache = folder.parent.parent / "reference_scores"
    cache.mkdir(exist_ok=True)
    key = sha256_of(path)[:12]
    frames = []
    for role, endpoint in endpoints.items():
        model = manifest["models"][role]
        cached = cache / f"{model['name']}-v{model['version']}-{key}.parquet"
        try:
            if not cached.exists():
                reference = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
                sample = reference.sample(n=min(REFERENCE_SAMPLE, len(reference)), random_state=0)
                sample = sample[list(manifest["features"])]
                answers = [p for start in range(0, len(sample), 500)
                           for p in endpoint.invoke(sample.iloc[start:start + 500], timeout=120)]
                pd.DataFrame({"prediction": [a.label for a in answers], "score": [a.score for a in answers]}
                             ).to_parquet(cached, index=False)
            frames.append(pd.read_parquet(cached).assign(target=role))
        except Exception as exc:  # noqa: BLE001 - optional evidence; the replay goes on
            print(f"reference scoring for {role} skipped: {exc}", flush=True)
    if frames:
        pd.concat(frames, ignore_index=True).to_parquet(folder / "reference_scores.parquet", index=False)


def execute_run(folder: Path, cancel: threading.Event) -> ReplayProgress:
    """Replay the run prepared in `folder` (manifest + requests.parquet) and close it."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["owner_pid"] = os.getpid()  # the run now lives and dies with this process
    settings = ReplaySettings(**manifest["settings"])
    endpoints = {role: Endpoint(role=role, url=model["endpoint"], backend=manifest.get("backend", ""))
                 for role, model in manifest["models"].items()}
    requests = read_parquet_lean(folder / "requests.parquet")
    writer = RunWriter(folder, manifest)
    writer.checkpoint()
    score_reference(folder, manifest, endpoints)
    progress = ReplayProgress(total=len(requests))
    shadow = _Shadow(endpoints, writer, settings, progress, cancel)
    status, reason = "finished", ""
    try:
        asyncio.run(shadow.run(requests["request_id"].astype(str).tolist(),
                               request_bodies(requests, tuple(manifest["features"]))))
        if cancel.is_set():
            status, reason = "cancelled", f"Cancelled after {progress.completed:,} of {progress.total:,} requests."
        elif any(shadow.connection_failures.values()):
            lost = ", ".join(f"{role}: {n:,}" for role, n in shadow.connection_failures.items() if n)
            status, reason = "degraded", f"A model server stopped answering; requests recorded as errors ({lost})."
    except Exception as exc:  # noqa: BLE001 - recorded in the manifest, then re-raised
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        progress.status, progress.reason, progress.finished = status, reason, True
        writer.finish(status, reason, {"requests": progress.completed, "answers": progress.answers,
                                        "errors": progress.errors})
    return progress


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: `python -m staging.replay RUN_FOLDER`; SIGTERM cancels."""
    folder = Path((argv or sys.argv[1:])[0])
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    execute_run(folder, cancel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
