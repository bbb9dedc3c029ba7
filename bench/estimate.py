"""Quality estimated before the labels land (CBPE), on the credit demo and on a million requests.

    python bench/estimate.py [--requests 6000] [--rows 1000000]

Prints one JSON object:
- `cbpe_backtest_mae_weeks_1_2` (goal <= 0.02 accuracy): on a shadow replay of the credit demo
  through real MLflow scoring servers (a fresh home, the process backend), the mean absolute gap
  between each model's estimated accuracy on a week's labelled requests and the accuracy the
  labels give, over weeks 1 and 2 (before the concept drift) and both models;
- `cbpe_flags_drift_weeks_3_5` (goal true): whether the back-test fails in each of weeks 3 to 5,
  where the demo's concept drift is (so the sandbox says the estimate is unreliable there), with
  `cbpe_failed_weeks` and the per-week table beside it;
- `estimate_1m_s` (goal <= 10 s): estimating both models, per week and for the whole run, with
  the back-test and the estimated difference's interval, for a 1M-request run (bench/compare_page.py
  builds it: real credit requests, synthetic answers), from its stored files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import parse_with_quick, publish
from compare_page import build_run  # a sibling: the script's folder is on the path

from staging import ReplaySettings, Sandbox, SandboxHome, TrafficSelection
from staging.evidence.answers import reread_reference_scores
from staging.evidence.compute import estimated_quality, read_table, run_answers
from staging.registry.demo import bootstrap_demo
from staging.registry.scenarios import CREDIT
from staging.roles import CHALLENGER, CHAMPION
from staging.runs import RunStore
from staging.tables import reference_sample


def demo_backtest(folder: Path, requests: int) -> dict:
    home = SandboxHome(folder / "demo-home")
    bootstrap_demo(home, ("credit",))
    with Sandbox(home, backend="process") as box:
        box.start_servers(CREDIT.model_name)
        handle = box.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=requests),
                                  ReplaySettings(concurrency=4))
        handle.wait()
        estimated = box.evidence(handle.run_id).estimated
    assert estimated is not None, "the demo run has no estimate"
    weeks = estimated.headline_by_window()
    order = sorted(weeks["window"].unique())
    early, late = order[:2], order[2:5]
    first = weeks[weeks["window"].isin(early)]
    gap = float((first["estimated_on_labelled"] - first["realised"]).abs().mean())
    failed = set(estimated.backtest["failed_windows"])
    return {"cbpe_backtest_mae_weeks_1_2": round(gap, 4),
            "cbpe_flags_drift_weeks_3_5": all(w in failed for w in late),
            "cbpe_failed_weeks": sorted(failed), "demo_requests": requests,
            "weeks": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                      for row in weeks.drop(columns=["inside_band"]).to_dict("records")]}


def million_seconds(folder: Path, rows: int) -> float:
    home = SandboxHome(folder / "home-1m")
    run_id = build_run(home, rows)
    store = RunStore(home)
    manifest = store.manifest(run_id)
    reference = reference_sample(read_table(manifest.reference_path))
    rng = np.random.default_rng(3)
    signal = reference[CREDIT.target].to_numpy() * 2.0 - 1.0
    frames = []
    for role, noise in ((CHAMPION, 1.3), (CHALLENGER, 1.1)):  # the same answer model as build_run's
        score = 1 / (1 + np.exp(-(1.6 * signal + rng.normal(0, np.hypot(0.8, noise), len(signal)) - 1.0)))
        frames.append(pd.DataFrame({"prediction": np.where(score >= 0.5, "1", "0"), "score": score, "target": role,
                                    "probabilities": [json.dumps({"0": 1 - s, "1": s}) for s in score]}))
    reference_scores = pd.concat(frames, ignore_index=True)
    reference_scores.to_parquet(store.folder(run_id) / "reference_scores.parquet", index=False)
    labels = read_table(manifest.labels_path)
    read, requests = run_answers(store, manifest, labels), store.requests(run_id)  # as the evidence reads them
    scores = reread_reference_scores(store.reference_scores(run_id), read.space)
    began = time.perf_counter()
    estimated = estimated_quality(manifest, read, requests, labels, scores, store.reference_scores_error(run_id), [])
    seconds = time.perf_counter() - began
    assert not isinstance(estimated, str) and estimated.unlabelled > 0, estimated
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parse_with_quick(parser, requests=600, rows=20000)
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as folder:
        result = demo_backtest(Path(folder), args.requests)
        result["estimate_1m_s"] = round(million_seconds(Path(folder), args.rows), 2)
    publish("estimate", result)


if __name__ == "__main__":
    main()
