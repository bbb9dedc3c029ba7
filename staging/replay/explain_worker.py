"""The explanation worker: a finished run's requests explained through both live endpoints, in
a process of its own (`python -m staging.replay.explain_worker RUN_FOLDER`), so the app's page
stays responsive and SIGTERM cancels it cleanly.

It reads what to do from `explanation/request.json` (the settings and the endpoints to ask),
chooses the rows and the background (`explain.sample`), sends masked rows as ordinary scoring
requests (`explain.served`) through shap's permutation explainer (`explain.shapley`), writes
progress as it goes and, at the end, the attributions and `explanation.json` with the status:
finished, stopped (the time limit; the rows done are kept), cancelled or failed.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..analytics.compare import agree_mask, answered_by_both
from ..errors import RunError
from ..evidence.compute import read_table, run_answers, run_labels
from ..explain.coding import RowCoder
from ..explain.result import METHOD, ROLES, explanation_folder, read_meta, write_meta, write_progress
from ..explain.sample import background_sample, choose_rows
from ..explain.served import OutputReader, ServedOutput
from ..explain.settings import ExplainSettings
from ..explain.shapley import explain_both
from ..runs import RunStore, read_manifest
from ..runs.folder import EXPLANATION_ATTRIBUTIONS, EXPLANATION_BACKGROUND
from ..serving.endpoint import Endpoint
from ..serving.protocols import V2, V2Encoder
from ..traffic.validation import specs_from_frame, validate_traffic

REQUEST = "request.json"


def execute(run_folder: Path, cancel: threading.Event) -> str:
    """Explain the run in `run_folder` as `explanation/request.json` asks; returns the status."""
    import shap

    started = time.monotonic()
    request = json.loads((explanation_folder(run_folder) / REQUEST).read_text())
    settings = ExplainSettings.from_dict(request["settings"])
    endpoints = {role: Endpoint(role=role, url=spec["url"], backend=spec["backend"])
                 for role, spec in request["endpoints"].items()}
    store = RunStore.of_run_folder(run_folder)
    manifest = read_manifest(run_folder)
    features = tuple(manifest.features)
    meta: dict[str, Any] = {"status": "running", "reason": "", "settings": settings.as_dict(), "features": list(features),
            "method": METHOD.format(version=shap.__version__, permutations=settings.permutations)}
    write_meta(run_folder, meta)

    read = run_answers(store, manifest, run_labels(manifest))
    both = answered_by_both(read.pairs).reset_index(drop=True)
    disagree = (~agree_mask(both, read.task)).to_numpy()
    rows = choose_rows(both["request_id"], disagree, settings.disagreements, settings.others, settings.seed)
    if not len(rows):
        raise RunError(f"Run {manifest.run_id} has no request both models answered, so there is nothing to explain.",
                       hint="Replay again once both servers answer.")
    requests = store.requests(manifest.run_id).assign(request_id=lambda f: f["request_id"].astype(str))
    explained = requests.set_index("request_id").loc[list(rows.request_ids), list(features)].reset_index()
    reference = read_table(manifest.reference_path)
    usable = reference[list(features)] if reference is not None and set(features) <= set(reference.columns) else None
    if usable is not None:  # the traffic's own checks: a row they would quarantine is never sent
        usable = validate_traffic(usable.reset_index(drop=True), specs_from_frame(requests[list(features)]),
                                  source="the training reference").requests[list(features)]
    background, background_words = background_sample(usable, requests[list(features)], settings.background,
                                                      settings.seed)
    coder, codes = RowCoder.of(pd.concat([background[list(features)], explained[list(features)]],
                                         ignore_index=True), features)
    meta.update(background=background_words, sample=rows.sentence())

    readers = {role: OutputReader.for_model(read.task, read.space, (read.pair_proba or {}).get(role) is not None,
                                            settings.scale, manifest.target) for role in ROLES}
    speaking = [e for e in endpoints.values() if e.protocol == V2]
    v2 = V2Encoder.for_frame(requests, features, speaking[0].v2_inputs()) if speaking else None
    deadline = time.monotonic() + settings.time_limit_s
    outputs = {role: ServedOutput(endpoints[role], coder, readers[role], v2, cancel.is_set, deadline,
                                  manifest.settings.score_column) for role in ROLES}
    done = {role: 0 for role in ROLES}
    writing = threading.Lock()  # both models' threads report; one file

    def on_step(role: str, count: int) -> None:
        with writing:
            done[role] = count
            write_progress(run_folder, done, len(rows))

    write_progress(run_folder, done, len(rows))
    results = explain_both(outputs, codes[:len(background)], codes[len(background):], settings.permutations,
                           settings.seed, on_step, cancel)
    records = []
    answer_of = {role: dict(zip(both["request_id"].astype(str), both[f"{role}_prediction"].astype(str)))
                 for role in ROLES}
    for role, result in results.items():
        for i, (values, base) in enumerate(zip(result.values, result.base)):
            request_id = rows.request_ids[i]
            for k in range(values.shape[1]):
                records.append({"request_id": request_id, "stratum": rows.strata[i], "weight": rows.weights[i],
                                "role": role, "output": k, "answer": answer_of[role].get(request_id, ""),
                                "base": float(base[k]), **dict(zip(features, values[:, k].tolist()))})
    if records:
        pd.DataFrame.from_records(records).to_parquet(explanation_folder(run_folder) / EXPLANATION_ATTRIBUTIONS,
                                                      index=False)
    errors = [f"the {role}: {result.error}" for role, result in results.items() if result.error is not None]
    finished = min(result.done for result in results.values())
    if errors:
        status, reason = "failed", "; ".join(errors)[:1000]
    elif cancel.is_set():
        status, reason = "cancelled", f"Cancelled after {finished:,} of {len(rows):,} rows; the rows done are kept."
    elif any(result.stopped for result in results.values()):
        status, reason = "stopped", (f"The time limit ({settings.time_limit_s:.0f} s) stopped it after {finished:,} "
                                     f"of {len(rows):,} rows; the rows done are kept.")
    else:
        status, reason = "finished", ""
    meta.update(status=status, reason=reason, seconds=round(time.monotonic() - started, 2),
                outputs={role: list(readers[role].names) for role in ROLES},
                kinds={role: readers[role].kind for role in ROLES},
                classes={role: list(readers[role].classes) for role in ROLES},
                requests_sent={role: results[role].requests_sent for role in ROLES},
                rows_sent={role: results[role].rows_sent for role in ROLES},
                rows_total=len(rows), background_rows=len(background))
    write_meta(run_folder, meta)
    _keep_background(run_folder, background)
    return status


def _keep_background(run_folder: Path, background: pd.DataFrame) -> None:
    """The background rows as they were, for the record (and for anyone re-checking the values)."""
    path = explanation_folder(run_folder) / EXPLANATION_BACKGROUND
    try:
        background.to_parquet(path, index=False)
    except (ValueError, TypeError, ArithmeticError):  # mixed object columns Arrow cannot type: kept as text
        background.astype(object).where(background.notna(), None).astype(str).to_parquet(path, index=False)


def main(argv: list[str] | None = None) -> int:
    """`python -m staging.replay.explain_worker RUN_FOLDER`; SIGTERM cancels, keeping the rows done."""
    folder = Path((argv or sys.argv[1:])[0])
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        execute(folder, cancel)
    except Exception as exc:
        meta = read_meta(folder) or {"settings": {}, "features": []}
        write_meta(folder, {**meta, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:1000]})
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
