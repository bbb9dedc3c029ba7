"""The replay worker: a prepared run (manifest + requests) replayed against live endpoints,
its answers written as they come, and the run closed with its status.

`ReplaySettings` holds the mode (shadow, canary, A/B) and timing (max, as recorded, fixed
rate); `plan` decides who gets each request and when, `bodies` builds what is sent and
`engine` sends it.
The run ends finished, cancelled, degraded (a model failed every request it was sent, or a
server stopped answering: its remaining
requests are error rows, everything answered is kept), aborted (a canary gate failed) or
failed.

The engine runs in a worker process of its own (`python -m staging.replay.worker RUN_FOLDER`,
started by `staging.replay.handle`), so the app's page reruns and its browser cannot stall
the event loop that times the answers. SIGTERM cancels it cleanly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pandas as pd

from ..runs import RunManifest, RunStore, RunSummary, RunWriter, read_manifest
from ..runs.folder import REFERENCE_SCORES, REFERENCE_SCORES_ERROR, REQUESTS
from ..serving.endpoint import Endpoint
from ..serving.protocols import V2, V2Encoder
from ..tables import read_parquet_lean, reference_sample, sha256_of
from .bodies import request_units
from .engine import ReplayEngine
from .plan import send_offsets
from .progress import ReplayProgress


def v2_encoder(endpoints: dict[str, Endpoint], requests: pd.DataFrame, features: tuple[str, ...]) -> V2Encoder | None:
    """How the traffic goes over V2 when a model speaks it (typed by the first V2 model's metadata)."""
    speaking = [endpoint for endpoint in endpoints.values() if endpoint.protocol == V2]
    if not speaking:
        return None
    return V2Encoder.for_frame(requests, features, speaking[0].v2_inputs())


def score_reference(store: RunStore, manifest: RunManifest, endpoints: dict[str, Endpoint]) -> None:
    """Each model's answers on a sample of the training reference, for prediction drift.
    Computed once per model version and reference file, cached under the sandbox home, and
    done before the replay so it never competes with the timed requests. A failure here is
    logged and skipped: prediction drift is then not shown, the replay still runs."""
    path = manifest.reference_path
    if not path or not Path(path).exists():
        return
    cache = store.reference_scores_cache()
    score_column = manifest.settings.score_column
    key = sha256_of(path)[:12] + (f"-{hashlib.sha256(score_column.encode()).hexdigest()[:6]}" if score_column else "")
    frames, failures = [], []
    for role, endpoint in endpoints.items():
        model = manifest.models[role]
        cached = cache / f"{model.name}-v{model.version}-{key}-p.parquet"
        try:
            if not cached.exists():
                reference = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
                sample = reference_sample(reference)[list(manifest.features)]
                answers = [p for start in range(0, len(sample), 500)
                           for p in endpoint.invoke(sample.iloc[start:start + 500], timeout=120,
                                                    score_column=score_column)]
                pd.DataFrame({"prediction": [a.label for a in answers], "score": [a.score for a in answers],
                              "probabilities": [a.probabilities_json() for a in answers]}
                             ).to_parquet(cached, index=False)
            frames.append(pd.read_parquet(cached).assign(target=role))
        except Exception as exc:  # noqa: BLE001 - optional evidence; the replay goes on
            print(f"reference scoring for {role} skipped: {exc}", flush=True)
            failures.append(f"the {role} ({model.uri}): {str(exc)[:400]}")
    folder = store.folder(manifest.run_id)
    if failures:
        (folder / REFERENCE_SCORES_ERROR).write_text("; ".join(failures))
    elif frames:
        pd.concat(frames, ignore_index=True).to_parquet(folder / REFERENCE_SCORES, index=False)


def run_event_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """uvloop's event loop (libuv) where it is installed: about 15% more requests per second
    than asyncio's own loop here, and tighter timers for open-loop schedules."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


def execute_run(folder: Path, cancel: threading.Event) -> ReplayProgress:
    """Replay the run prepared in `folder` (manifest + requests.parquet, made by `RunStore.create`)
    and close it."""
    store = RunStore.of_run_folder(folder)
    manifest = read_manifest(folder).replace(owner_pid=os.getpid())  # the run now lives and dies with this process
    settings = manifest.settings
    endpoints = {role: Endpoint(role=role, url=model.endpoint, backend=manifest.backend)
                 for role, model in manifest.models.items()}
    requests = read_parquet_lean(folder / REQUESTS)
    writer = RunWriter(folder, manifest)
    writer.checkpoint()
    score_reference(store, manifest, endpoints)
    progress = ReplayProgress(total=len(requests))
    engine = ReplayEngine(endpoints, writer, settings, progress, cancel)
    status, reason = "finished", ""
    try:
        units, bodies, first_rows = request_units(requests, manifest.features, settings.batch_size,
                                                  v2_encoder(endpoints, requests, manifest.features))
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
        elif silent := [role for role, sent in engine.sent.items() if sent and not engine.answered[role]]:
            role = silent[0]
            status, reason = "degraded", (f"The {role} model failed every one of its {engine.sent[role]:,} requests "
                                          f"(first error: {engine.first_error.get(role, '')[:160]}); nothing it "
                                          f"answered can be compared.")
    except Exception as exc:
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        progress.status, progress.reason, progress.finished = status, reason, True
        writer.finish(status, reason, RunSummary(requests=progress.completed, answers=progress.answers,
                                                 errors=progress.errors, canary=tuple(engine.canary_report)))
    return progress


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: `python -m staging.replay.worker RUN_FOLDER`; SIGTERM cancels."""
    folder = Path((argv or sys.argv[1:])[0])
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    execute_run(folder, cancel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
