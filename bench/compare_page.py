"""A finished run of a million credit requests, written exactly as a replay writes one, and the
Compare page timed on it. Used by bench/drift.py (`compare_page_1m_s`, `analysis_1m_s`).

The requests are real rows of the credit sample resampled with new ids over five weeks; the
answers are synthetic (two correlated scorers that are right about 80% of the time, with
latencies and a few errors), because a million real answers take hours to collect here.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from staging.home import SandboxHome
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.roles import CHALLENGER, CHAMPION
from staging.runs import ModelEntry, RunManifest, RunStore, RunSummary, TrafficRecord, read_manifest, write_manifest

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "compare.py"


def build_run(home: SandboxHome, rows: int, seed: int = 0) -> str:
    home.ensure()
    rng = np.random.default_rng(seed)
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    traffic["income"] = pd.to_numeric(traffic["income"], errors="coerce")
    traffic = traffic.dropna(subset=["income", "age"]).reset_index(drop=True)
    labels = pd.read_parquet(CREDIT.file("labels")).set_index("request_id")[CREDIT.target]
    picked = rng.integers(0, len(traffic), rows)
    requests = traffic.iloc[picked].reset_index(drop=True)
    truth = labels.reindex(requests["request_id"]).to_numpy()
    requests["request_id"] = [f"r{i:07d}" for i in range(rows)]
    start = pd.Timestamp("2026-10-05")
    requests["timestamp"] = start + pd.to_timedelta(np.sort(rng.uniform(0, 35 * 86400, rows)), unit="s")
    labelled = ~np.isnan(truth) & (rng.random(rows) < 0.91)
    label_frame = pd.DataFrame({"request_id": requests["request_id"][labelled],
                                CREDIT.target: truth[labelled].astype(int)})
    labels_path = home.root / "labels-1m.parquet"
    label_frame.to_parquet(labels_path, index=False)

    run_id = "bench-1m"
    manifest = RunManifest(
        run_id=run_id, model_name=CREDIT.model_name, task=CREDIT.task, target=CREDIT.target,
        models={role: ModelEntry(CREDIT.model_name, str(v), role, f"models:/{CREDIT.model_name}/{v}", "")
                for role, v in ((CHAMPION, 1), (CHALLENGER, 2))},
        backend="process", features=tuple(CREDIT.numeric + CREDIT.categorical),
        numeric=tuple(CREDIT.numeric), categorical=tuple(CREDIT.categorical),
        traffic=TrafficRecord(path=str(CREDIT.file("traffic")), sha256="0" * 64, replayed=rows),
        settings=ReplaySettings(concurrency=32, warmup_requests=0),
        labels_path=str(labels_path), reference_path=str(CREDIT.file("train")))
    store = RunStore(home)
    folder = store.create(manifest, requests, pd.DataFrame(columns=["reason"]))

    signal = np.where(np.isnan(truth), rng.integers(0, 2, rows), truth) * 2.0 - 1.0
    shared = rng.normal(0, 1, rows)
    frames = []
    began = 1_795_000_000.0
    for role, noise in ((CHAMPION, 1.3), (CHALLENGER, 1.1)):
        logit = 1.6 * signal + 0.8 * shared + rng.normal(0, noise, rows) - 1.0
        score = 1 / (1 + np.exp(-logit))
        status = np.where(rng.random(rows) < 0.001, 500, 200)
        frames.append(pd.DataFrame({
            "run_id": run_id, "request_id": requests["request_id"], "target": role,
            "intended_send": began + np.arange(rows) / 2000.0, "actual_send": began + np.arange(rows) / 2000.0,
            "latency_ms": rng.lognormal(np.log(14 if role == CHAMPION else 16), 0.25, rows),
            "status": status, "prediction": np.where(score >= 0.5, "1", "0"),
            "score": np.where(status == 200, score, np.nan),
            "probabilities": [json.dumps({"0": 1 - s, "1": s}) for s in score],
            "error": np.where(status == 200, "", "HTTP 500: the model server failed")}))
    pd.concat(frames, ignore_index=True).to_parquet(folder / "results.parquet", index=False)
    (folder / "results.jsonl").touch()
    errors = int(sum((f["status"] != 200).sum() for f in frames))
    write_manifest(folder, read_manifest(folder).replace(
        status="finished", end_reason="", ended_at=time.time(), rows=2 * rows,
        summary=RunSummary(requests=rows, answers=2 * rows, errors=errors)))
    return run_id


def measure_compare_page(rows: str, folder: str) -> dict:
    """In a fresh process: build the run, compute its analysis once (as the first visit does),
    then time the Compare page as every later visit sees it."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from staging.evidence import stored_evidence
    from staging.ui import MODEL_KEY, RUN_KEY

    home = SandboxHome(Path(folder) / "home")
    os.environ["STAGING_HOME"] = str(home.root)
    run_id = build_run(home, int(rows))
    began = time.perf_counter()
    stored_evidence(RunStore(home), run_id)
    analysis_s = time.perf_counter() - began

    timings = []
    for _ in range(4):  # a fresh session each time, Streamlit's caches emptied: only the stored analysis
        st.cache_data.clear()
        st.cache_resource.clear()
        page = AppTest.from_file(str(PAGE), default_timeout=600)
        page.session_state[MODEL_KEY] = CREDIT.model_name
        page.session_state[RUN_KEY] = run_id
        began = time.perf_counter()
        page.run()
        timings.append(time.perf_counter() - began)
        if page.exception or page.error:
            raise RuntimeError(f"the Compare page failed: {page.exception or page.error}")
        if not any("agrees with the champion" in m.value for m in page.markdown):
            raise RuntimeError("the Compare page did not show the comparison")
    # The first render also pays this process's one-off start: imports, MLflow creating its database.
    return {"compare_page_1m_s": round(float(np.median(timings[1:])), 2),
            "compare_page_1m_first_in_process_s": round(timings[0], 2), "analysis_1m_s": round(analysis_s, 2)}
