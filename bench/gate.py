"""Simulated error rates of the promotion gate and of the drift verdict it reads.

    python bench/gate.py [--seeds 400] [--power-seeds 200] [--drift-seeds 200]

Prints one JSON object:
- `aa_false_fail_rate`: the default policy's gate on a model against itself (two copies that
  disagree only through independent noise, about 3% of answers), n = 2,000 labelled requests,
  `--seeds` runs: the share of runs with any failed check. Goal <= 0.05.
- `power_2pt_5k`: the share of runs the gate fails when the challenger is 2 accuracy points
  worse, n = 5,000, the lower of two cases: `power_2pt_5k_noisier` (its scores carry more
  noise) and `power_2pt_5k_threshold` (its threshold moved: the same ranking, the same AUC).
  Goal >= 0.80.
- `drift_aa_any_column_rate_800_700` and `_5000_200`: reference and current drawn from one
  population (the credit training data plus a 30-category column), the share of runs in which
  the sandbox's verdict flags any column. Goal <= 0.05 each; `drift_aa_any_column_rate` is the
  larger. Evidently's own rule on the same runs is printed beside them.
- `drift_power_spread_1_6x`: the same, with one numeric column's spread 1.6 times wider in the
  current rows (800 against 700): the share of runs whose verdict flags that column.

Each run goes through the gate's own code: the evidence's paired intervals
(`metric_difference_table`), the latency ratios, the segments, and `evaluate_gate` under
`staging/gate/default.toml`. Labels, scores and latencies are simulated; nothing is served.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from common import publish

from staging.analytics.drift import feature_drift
from staging.analytics.latency import latency_table, percentile_ratios
from staging.analytics.paired import metric_difference_table
from staging.analytics.segments import segment_table
from staging.evidence import RunEvidence
from staging.gate import FAILED, default_policy, evaluate_gate
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.roles import CHALLENGER, CHAMPION
from staging.runs import ModelEntry, RunManifest, TrafficRecord

NOISE_SD = 0.15  # each copy's own noise on the logit: the two copies disagree on about 3% of requests


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def simulated_pair(n: int, seed: int, case: str) -> pd.DataFrame:
    """One labelled replay of n requests: truth, both models' scores and classes, two features.
    case "aa": the same model twice; "noisier": the challenger's scores carry extra noise tuned
    to cost 2 accuracy points; "threshold": the challenger's threshold moved to cost 2 points."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 2.0, n)
    truth = (rng.random(n) < _sigmoid(signal)).astype(int)
    champion = _sigmoid(signal + rng.normal(0, NOISE_SD, n))
    challenger_noise = {"aa": NOISE_SD, "noisier": 0.7, "threshold": NOISE_SD}[case]
    challenger = _sigmoid(signal + rng.normal(0, challenger_noise, n))
    cut = {"aa": 0.5, "noisier": 0.5, "threshold": 0.66}[case]
    return pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)], "y": truth,
        f"{CHAMPION}_prediction": (champion >= 0.5).astype(int).astype(str), f"{CHAMPION}_score": champion,
        f"{CHALLENGER}_prediction": (challenger >= cut).astype(int).astype(str), f"{CHALLENGER}_score": challenger,
        "region": rng.choice(list("ABCDEF"), n), "amount": rng.gamma(2.0, 1000.0, n)})


def simulated_results(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Both models answered every request, with latencies from one distribution, no errors."""
    rng = np.random.default_rng(seed + 1_000_000)
    frames = [pd.DataFrame({"request_id": rows["request_id"], "target": role, "status": 200, "error": "",
                            "latency_ms": rng.lognormal(np.log(15), 0.3, len(rows))})
              for role in (CHAMPION, CHALLENGER)]
    return pd.concat(frames, ignore_index=True)


def simulated_evidence(rows: pd.DataFrame, seed: int) -> RunEvidence:
    results = simulated_results(rows, seed)
    manifest = RunManifest(run_id=f"sim-{seed}", model_name="sim", backend="process", features=("region", "amount"),
                           models={role: ModelEntry("sim", str(v), role, f"models:/sim/{v}", "")
                                   for role, v in ((CHAMPION, 1), (CHALLENGER, 2))},
                           task="classification", target="y", numeric=("amount",), categorical=("region",),
                           traffic=TrafficRecord(path="simulated", sha256="0" * 64, replayed=len(rows)),
                           settings=ReplaySettings(), status="finished")
    paired = metric_difference_table(rows, "y", "classification")
    segments = segment_table(rows, "y", "classification", ("amount",), ("region",))
    return RunEvidence(manifest=manifest, task="classification", agreement=None,  # type: ignore[arg-type]
                       quality=None, labelled=len(rows), latency=latency_table(results), drift=None,
                       dataset_drift=False, disagreements=pd.DataFrame(), challenger_right_when_differ=None,
                       weekly=pd.DataFrame(), segments=segments, latency_ratios=percentile_ratios(results),
                       **paired)


def gate_fails(args: tuple[int, int, str]) -> tuple[bool, list[str], float]:
    n, seed, case = args
    rows = simulated_pair(n, seed, case)
    verdict = evaluate_gate(simulated_evidence(rows, seed), default_policy())
    failed = [c.name for c in verdict.checks if c.status == FAILED]
    accuracy_gap = float(((rows[f"{CHALLENGER}_prediction"].astype(int) == rows["y"]).mean())
                         - ((rows[f"{CHAMPION}_prediction"].astype(int) == rows["y"]).mean()))
    return bool(failed), failed, accuracy_gap


def rate(pool: ProcessPoolExecutor, n: int, seeds: int, case: str) -> dict:
    outcomes = list(pool.map(gate_fails, [(n, seed, case) for seed in range(seeds)], chunksize=4))
    by_check: dict[str, int] = {}
    for _, failed, _ in outcomes:
        for name in failed:
            by_check[name] = by_check.get(name, 0) + 1
    return {"rate": float(np.mean([o[0] for o in outcomes])), "failed_checks": by_check,
            "mean_accuracy_gap": float(np.mean([o[2] for o in outcomes]))}


# -- drift -------------------------------------------------------------------------------------
def drift_population(rng: np.random.Generator) -> pd.DataFrame:
    train = pd.read_parquet(CREDIT.file("train"))
    pool = train[list(CREDIT.numeric + CREDIT.categorical)].copy()
    shares = 1 / np.arange(1, 31)
    pool["region"] = rng.choice([f"region-{i:02d}" for i in range(30)], len(pool), p=shares / shares.sum())
    return pool


def drift_flags(args: tuple[int, int, int, str]) -> tuple[bool, bool, bool]:
    """(sandbox flags any column, Evidently's rule flags any, the spread column is flagged)."""
    n_ref, n_cur, seed, case = args
    rng = np.random.default_rng(seed)
    pool = drift_population(np.random.default_rng(12345))
    picked = rng.permutation(len(pool))
    reference = pool.iloc[picked[:n_ref]].reset_index(drop=True)
    current = pool.iloc[picked[n_ref:n_ref + n_cur]].reset_index(drop=True)
    numeric = tuple(CREDIT.numeric)
    if case == "spread":
        reference = reference.assign(spread=rng.normal(0, 1, n_ref))
        current = current.assign(spread=rng.normal(0, 1.6, n_cur))
        numeric = (*numeric, "spread")
    table = feature_drift(reference, current, numeric, (*CREDIT.categorical, "region"))
    spread_flagged = bool(table.loc[table["feature"] == "spread", "drifted"].any()) if case == "spread" else False
    return bool(table["drifted"].any()), bool(table["evidently_drifted"].any()), spread_flagged


def drift_rates(pool: ProcessPoolExecutor, n_ref: int, n_cur: int, seeds: int, case: str = "aa") -> dict:
    outcomes = list(pool.map(drift_flags, [(n_ref, n_cur, seed, case) for seed in range(seeds)], chunksize=4))
    return {"sandbox": float(np.mean([o[0] for o in outcomes])), "evidently": float(np.mean([o[1] for o in outcomes])),
            "spread_flagged": float(np.mean([o[2] for o in outcomes]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400, help="A/A runs at n = 2,000")
    parser.add_argument("--power-seeds", type=int, default=200, help="runs per power case at n = 5,000")
    parser.add_argument("--drift-seeds", type=int, default=200, help="runs per drift case")
    args = parser.parse_args()
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        aa = rate(pool, 2000, args.seeds, "aa")
        noisier = rate(pool, 5000, args.power_seeds, "noisier")
        moved = rate(pool, 5000, args.power_seeds, "threshold")
        small = drift_rates(pool, 800, 700, args.drift_seeds)
        large = drift_rates(pool, 5000, 200, args.drift_seeds)
        spread = drift_rates(pool, 800, 700, args.drift_seeds, "spread")
    publish("gate", {
        "aa_false_fail_rate": round(aa["rate"], 4), "aa_failed_checks": aa["failed_checks"],
        "power_2pt_5k": round(min(noisier["rate"], moved["rate"]), 4),
        "power_2pt_5k_noisier": round(noisier["rate"], 4), "power_2pt_5k_threshold": round(moved["rate"], 4),
        "accuracy_gap_noisier": round(noisier["mean_accuracy_gap"], 4),
        "accuracy_gap_threshold": round(moved["mean_accuracy_gap"], 4),
        "drift_aa_any_column_rate": round(max(small["sandbox"], large["sandbox"]), 4),
        "drift_aa_any_column_rate_800_700": round(small["sandbox"], 4),
        "drift_aa_any_column_rate_5000_200": round(large["sandbox"], 4),
        "evidently_aa_any_column_rate_800_700": round(small["evidently"], 4),
        "evidently_aa_any_column_rate_5000_200": round(large["evidently"], 4),
        "drift_power_spread_1_6x": round(spread["spread_flagged"], 4),
        "seeds": {"aa": args.seeds, "power": args.power_seeds, "drift": args.drift_seeds},
        "seconds": round(time.perf_counter() - began, 1)})


if __name__ == "__main__":
    main()
