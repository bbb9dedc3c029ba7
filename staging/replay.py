"""The replay worker: a prepared run (manifest + requests) replayed against live endpoints,
its answers written as they come, and the run closed with its status.

`ReplaySettings` holds the mode (shadow, canary, A/B) and timing (max, as recorded, fixed
rate); `replay_plan` decides who gets each request and when, `replay_engine` sends them.
The run ends finished, cancelled, degraded (a server stopped answering: its remaining
requests are error rows, everything answered is kept), aborted (a canary gate failed) or
failed.

The engine runs in a worker process of its own (`python -m staging.replay RUN_FOLDER`,
started by `staging.replay_runner`), so the app's page reruns and its browser cannot stall
the event loop that times the answers. SIGTERM cancels it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .endpoints import Endpoint
from .errors import ConfigurationError
from .replay_engine import ReplayEngine, ReplayProgress
from .replay_plan import DEFAULT_CANARY_STEPS, MODES, TIMINGS, send_offsets
from .runstore import RunWriter
from .tables import read_parquet_lean
from .traffic import sha256_of


@dataclass(frozen=True)
class ReplaySettings:
    mode: str = "shadow"  # shadow, canary or ab (see replay_plan)
    concurrency: int = 2  # timing "max": requests in flight at once (each goes to every target)
    timeout_s: float = 30.0
    warmup_requests: int = 5
    timing: str = "max"  # max, recorded (with `speed`) or rate (open loop at `rate_per_s`)
    speed: float = 1.0
    rate_per_s: float = 50.0
    canary_steps: tuple[int, ...] = DEFAULT_CANARY_STEPS
    canary_max_error_rate: float = 0.02
    canary_max_p95_ratio: float = 1.5
    split_key: str | None = None  # ab: the column whose hash picks the model (default: the request id)
    challenger_share: float = 0.5  # ab: the share of keys that meet the challenger
    batch_size: int = 1  # rows per request: above 1, batch mode, for bulk comparison of large files

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.timing not in TIMINGS:
            problems.append(f"timing {self.timing!r} is not one of {', '.join(TIMINGS)}")
        if self.concurrency < 1 or self.batch_size < 1 or self.timeout_s <= 0 or self.speed <= 0 or self.rate_per_s <= 0:
            problems.append("concurrency, batch size, timeout, speed and rate must all be above 0")
        if not 0 <= self.challenger_share <= 1:
            problems.append("the challenger's share must be between 0 and 1")
        if not self.canary_steps or any(not 0 < s <= 100 for s in self.canary_steps):
            problems.append("canary steps must be percentages between 1 and 100")
        if problems:
            raise ConfigurationError("The replay settings cannot be used: " + "; ".join(problems) + ".",
                                     hint="Correct the settings and start the replay again; nothing was sent.")
        object.__setattr__(self, "canary_steps", tuple(int(s) for s in self.canary_steps))

    def as_dict(self) -> dict:
        return {**asdict(self), "canary_steps": list(self.canary_steps)}


def request_bodies(requests: pd.DataFrame, features: tuple[str, ...]) -> list[bytes]:
    """One `dataframe_split` body per recorded request, NaN sent as null."""
    return request_units(requests, features)[1]


BODY_CHUNK = 20_000  # rows turned into Python values at a time, so a million never are at once


def request_units(requests: pd.DataFrame, features: tuple[str, ...], batch_size: int = 1
                  ) -> tuple[list, list[bytes], np.ndarray]:
    """The requests as sent: (request ids of each, bodies, index of each one's first row).
    One row per request (its id a plain string), except in batch mode (`batch_size` rows each)
    and for the multi-row requests of a request log (rows sharing `_request`), which keep their
    recorded grouping (their ids a list)."""
    columns = list(features)
    ids = requests["request_id"].astype(str).tolist()
    if batch_size > 1:
        starts = np.arange(0, len(ids), batch_size)
    elif "_request" in requests.columns and requests["_request"].notna().any():
        group = requests["_request"].to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]])) if len(group) else np.array([])
    else:
        bodies = []
        for start in range(0, len(ids), BODY_CHUNK):
            part = requests[columns].iloc[start:start + BODY_CHUNK]
            for row in part.astype(object).where(part.notna(), None).itertuples(index=False, name=None):
                bodies.append(json.dumps({"dataframe_split": {"columns": columns, "data": [row]}},
                                         default=_plain).encode())
        return ids, bodies, np.arange(len(ids))
    ends = np.append(starts[1:], len(ids)).astype(int)
    bodies = []
    for a, b in zip(starts, ends):
        part = requests[columns].iloc[a:b]
        rows = list(part.astype(object).where(part.notna(), None).itertuples(index=False, name=None))
        bodies.append(json.dumps({"dataframe_split": {"columns": columns, "data": rows}}, default=_plain).encode())
    return [ids[a:b] for a, b in zip(starts, ends)], bodies, starts.astype(int)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


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


def run_event_loop(coroutine) -> None:
    """uvloop's event loop (libuv) where it is installed: about 15% more requests per second
    than asyncio's own loop here, and tighter timers for open-loop schedules."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


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
    engine = ReplayEngine(endpoints, writer, settings, progress, cancel)
    status, reason = "finished", ""
    try:
        units, bodies, first_rows = request_units(requests, tuple(manifest["features"]), settings.batch_size)
        offsets = send_offsets(settings.timing, len(requests), requests.get("timestamp"), settings.speed,
                               settings.rate_per_s)
        keys = (requests[settings.split_key].to_numpy()[first_rows].tolist()
                if settings.split_key in requests.columns else None)
        del requests  # the bodies carry what is sent; the frame is not needed while they go
        run_event_loop(engine.run(units, bodies, None if offsets is None else offsets[first_rows], keys))
        del units, bodies
        if cancel.is_set():
            status, reason = "cancelled", f"Cancelled after {progress.completed:,} of {progress.total:,} requests."
        elif any(engine.connection_failures.values()):
            lost = ", ".join(f"{role}: {n:,}" for role, n in engine.connection_failures.items() if n)
            status, reason = "degraded", f"A model server stopped answering; requests recorded as errors ({lost})."
        elif engine.aborted:
            status, reason = "aborted", engine.aborted
    except Exception as exc:  # noqa: BLE001 - recorded in the manifest, then re-raised
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        progress.status, progress.reason, progress.finished = status, reason, True
        summary = {"requests": progress.completed, "answers": progress.answers, "errors": progress.errors}
        if engine.canary_report:
            summary["canary"] = engine.canary_report
        writer.finish(status, reason, summary)
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
