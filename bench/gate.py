"""Simulated error rates of the promotion gate, of the drift verdict it reads, and of its
latency guardrail.

    python bench/gate.py [--seeds 400] [--power-seeds 200] [--drift-seeds 300] [--quick]

Prints one JSON object:
- `aa_failed_rate_by_disagreement`: equally good models (the same latent score, each with its
  own noise on the logit, tuned so that they disagree on 3%, 10%, 20% or 30% of requests),
  n = 2,000 labelled requests, `--seeds` runs each: the share of runs whose verdict is
  *failed*. Goal <= 0.05 each. `aa_failed_rate_by_disagreement_500` and `_10000` the same at
  n = 500 (as many seeds) and 10,000 (a quarter), and `aa_failed_checks` which checks failed.
- `not_yet_rate_equal_models_2k`: on the same runs, the share whose verdict is "not yet"
  (reported, no goal), by disagreement.
- `power_2pt_5k`: the share of runs failed when the challenger is 2 accuracy points worse,
  n = 5,000, the lower of `power_2pt_5k_noisier` (its scores carry more noise) and
  `power_2pt_5k_threshold` (its threshold moved: the same ranking). Goal >= 0.80.
- `labels_needed_accuracy`: at 20% disagreement, the median `labels_needed` the accuracy check
  gives on the n = 2,000 runs it left "not yet" (`estimate`), beside the n at which 95% of
  simulated runs decide that check (`simulated`, the first of a grid of sizes).
- `drift_aa_any_column_rate`: reference and current drawn from one population (the credit
  training data plus a 30-category column, a 100-category column and a heavy-tailed skewed
  column whose current values often lie beyond the reference's range), the share of runs in
  which the sandbox's verdict flags any column, the larger of 800/700 and 5,000/200 rows (each
  also printed, with Evidently's own rule beside it). Goal <= 0.05.
- `drift_power_spread_1_6x`: one normal column's spread 1.6 times wider in the current rows (800
  against 700): the share of runs whose verdict flags that column. Goal >= 0.80.
  `drift_power_spread_1_6x_laplace` the same for a Laplace column, whose KS statistic for that
  change is only 0.086.
- `latency_aa_warn_rate_spiky`: identical models whose answers pause (x10) on 4% of requests,
  2,000 requests: the share of runs in which the p95 or p99 check warns or fails. Goal <= 0.05.
  `latency_failed_2x_spiky` (and `_5k`) and `latency_failed_2x`: how often a challenger twice as
  slow is failed on that traffic and on traffic without pauses.

Each run goes through the gate's own code: the evidence's paired intervals
(`metric_difference_table`), the latency ratios and error counts (0.5% of requests fail on each
model), four segments, and `evaluate_gate` under `staging/gate/default.toml`. Labels, scores and
latencies are simulated; nothing is served. `--quick` runs a handful of seeds to check that
every key is still printed (CI runs it so).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache

import numpy as np
import pandas as pd
from common import publish

from staging.analytics.drift import feature_drift
from staging.analytics.latency import latency_table, percentile_ratios
from staging.analytics.paired import metric_difference_table
from staging.analytics.segments import segment_table
from staging.evidence import RunEvidence
from staging.gate import FAILED, NOT_YET, WARNED, default_policy, evaluate_gate
from staging.gate.checks import latency_checks
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.roles import CHALLENGER, CHAMPION
from staging.runs import ModelEntry, RunManifest, TrafficRecord

LATENT_SD = 1.5  # the true log-odds' spread across requests
ERROR_RATE = 0.005  # each model fails this share of requests, independently
DISAGREEMENTS = (0.03, 0.10, 0.20, 0.30)
SEGMENTS = ("north", "south", "east", "west")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@cache
def noise_for(disagreement: float) -> float:
    """The logit noise each of two equally good models carries so that they disagree on this
    share of requests (found once, by bisection on a large sample)."""
    rng = np.random.default_rng(0)
    latent = rng.normal(0, LATENT_SD, 400_000)
    first, second = rng.normal(0, 1, (2, latent.size))

    def share(noise: float) -> float:
        return float(np.mean((latent + noise * first > 0) != (latent + noise * second > 0)))

    low, high = 0.0, 20.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if share(middle) < disagreement else (low, middle)
    return (low + high) / 2


def simulated_pair(n: int, seed: int, case: str, disagreement: float = 0.10) -> pd.DataFrame:
    """One labelled replay of n requests: truth, both models' scores and classes, two features.
    case "aa": two equally good models with independent noise; "noisier": the challenger's
    scores carry extra noise tuned to cost 2 accuracy points; "threshold": the challenger's
    threshold moved to cost 2 points (the same ranking)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, LATENT_SD, n)
    truth = (rng.random(n) < _sigmoid(latent)).astype(int)
    noise = noise_for(disagreement) if case == "aa" else noise_for(0.03)
    champion = _sigmoid(latent + rng.normal(0, noise, n))
    challenger_noise = {"aa": noise, "noisier": 0.59, "threshold": noise}[case]
    challenger = _sigmoid(latent + rng.normal(0, challenger_noise, n))
    cut = {"aa": 0.5, "noisier": 0.5, "threshold": 0.634}[case]
    return pd.DataFrame({
        "request_id": [f"r{i:06d}" for i in range(n)], "y": truth,
        f"{CHAMPION}_prediction": (champion >= 0.5).astype(int).astype(str), f"{CHAMPION}_score": champion,
        f"{CHALLENGER}_prediction": (challenger >= cut).astype(int).astype(str), f"{CHALLENGER}_score": challenger,
        "region": rng.choice(SEGMENTS, n), "amount": rng.gamma(2.0, 1000.0, n)})


def simulated_results(rows: pd.DataFrame, seed: int, pause_share: float = 0.0, slower: float = 1.0,
                      error_rate: float = ERROR_RATE) -> pd.DataFrame:
    """Both models' answers in send order: lognormal latencies (a share of them paused ten
    times longer), `error_rate` of requests failed, independently on each model."""
    rng = np.random.default_rng(seed + 1_000_000)
    frames = []
    for role in (CHAMPION, CHALLENGER):
        latency = rng.lognormal(np.log(15), 0.3, len(rows))
        paused = rng.random(len(rows)) < pause_share
        latency[paused] = rng.lognormal(np.log(150), 0.5, int(paused.sum()))
        failed = rng.random(len(rows)) < error_rate
        frames.append(pd.DataFrame({
            "request_id": rows["request_id"], "target": role, "intended_send": np.arange(len(rows)) * 0.01,
            "status": np.where(failed, 500, 200), "error": np.where(failed, "HTTP 500", ""),
            "latency_ms": latency * (slower if role == CHALLENGER else 1.0)}))
    return pd.concat(frames, ignore_index=True)


def simulated_evidence(rows: pd.DataFrame, results: pd.DataFrame, seed: int) -> RunEvidence:
    manifest = RunManifest(run_id=f"sim-{seed}", model_name="sim", backend="process", features=("region", "amount"),
                           models={role: ModelEntry("sim", str(v), role, f"models:/sim/{v}", "")
                                   for role, v in ((CHAMPION, 1), (CHALLENGER, 2))},
                           task="classification", target="y", numeric=("amount",), categorical=("region",),
                           traffic=TrafficRecord(path="simulated", sha256="0" * 64, replayed=len(rows)),
                           settings=ReplaySettings(), status="finished")
    answered = set(results.loc[results["status"].eq(200), "request_id"].value_counts().loc[lambda c: c == 2].index)
    labelled = rows[rows["request_id"].isin(answered)]
    paired = metric_difference_table(labelled, "y", "classification")
    segments = segment_table(labelled, "y", "classification", ("amount",), ("region",))
    failed = results.pivot_table(index="request_id", columns="target", values="status", aggfunc="last").ne(200)
    pairs = {"requests": len(failed), "both": int((failed[CHAMPION] & failed[CHALLENGER]).sum()),
             "challenger_only": int((failed[CHALLENGER] & ~failed[CHAMPION]).sum()),
             "champion_only": int((failed[CHAMPION] & ~failed[CHALLENGER]).sum())}
    return RunEvidence(manifest=manifest, task="classification", agreement=None,  # type: ignore[arg-type]
                       quality=None, labelled=len(labelled), latency=latency_table(results), drift=None,
                       dataset_drift=False, disagreements=pd.DataFrame(), challenger_right_when_differ=None,
                       weekly=pd.DataFrame(), segments=segments, latency_ratios=percentile_ratios(results),
                       error_pairs=pairs, **paired)


def gate_outcome(args: tuple) -> tuple[str, list[str], float, int | None]:
    """(the verdict's status, the failed checks, the accuracy gap, the accuracy check's labels
    needed when it is not yet) for one simulated run."""
    n, seed, case, disagreement = (*args, 0.10)[:4]
    rows = simulated_pair(n, seed, case, disagreement)
    verdict = evaluate_gate(simulated_evidence(rows, simulated_results(rows, seed), seed), default_policy())
    failed = [c.name for c in verdict.checks if c.status == FAILED]
    accuracy = next(c for c in verdict.checks if c.name == "quality: accuracy")
    gap = float(((rows[f"{CHALLENGER}_prediction"].astype(int) == rows["y"]).mean())
                - ((rows[f"{CHAMPION}_prediction"].astype(int) == rows["y"]).mean()))
    return verdict.status, failed, gap, accuracy.numbers.get("labels_needed") if accuracy.status == NOT_YET else None


def gate_fails(args: tuple) -> tuple[bool, list[str], float]:
    """(failed at all, which checks, the accuracy gap): the test suite's short form."""
    status, failed, gap, _ = gate_outcome(args)
    return status == FAILED, failed, gap


def outcomes(pool: ProcessPoolExecutor, n: int, seeds: int, case: str, disagreement: float = 0.10) -> dict:
    runs = list(pool.map(gate_outcome, [(n, seed, case, disagreement) for seed in range(seeds)], chunksize=4))
    by_check: dict[str, int] = {}
    for _, failed, _, _ in runs:
        for name in failed:
            by_check[name] = by_check.get(name, 0) + 1
    needed = [r[3] for r in runs if r[3]]
    return {"failed": float(np.mean([r[0] == FAILED for r in runs])),
            "not_yet": float(np.mean([r[0] == NOT_YET for r in runs])), "failed_checks": by_check,
            "mean_accuracy_gap": float(np.mean([r[2] for r in runs])),
            "labels_needed_median": int(np.median(needed)) if needed else None}


def accuracy_decides(args: tuple[int, int, float]) -> bool:
    """Whether the accuracy rule alone decides (passes or fails) on one equally-good run of n."""
    n, seed, disagreement = args
    rows = simulated_pair(n, 50_000 + seed, "aa", disagreement)
    table = metric_difference_table(rows, "y", "classification")["differences"]
    row = table[table["metric"] == "accuracy"].iloc[0]
    return bool(row["low"] > -0.02 or row["high"] < 0)


def decided_at(pool: ProcessPoolExecutor, disagreement: float, seeds: int, sizes: list[int]) -> int | None:
    """The first size of the grid at which 95% of simulated runs decide the accuracy rule."""
    for n in sizes:
        decided = list(pool.map(accuracy_decides, [(n, seed, disagreement) for seed in range(seeds)], chunksize=8))
        if np.mean(decided) >= 0.95:
            return n
    return None


# -- drift -------------------------------------------------------------------------------------
def drift_population(rng: np.random.Generator) -> pd.DataFrame:
    train = pd.read_parquet(CREDIT.file("train"))
    pool = train[list(CREDIT.numeric + CREDIT.categorical)].copy()
    shares = 1 / np.arange(1, 31)
    pool["region"] = rng.choice([f"region-{i:02d}" for i in range(30)], len(pool), p=shares / shares.sum())
    many = 1 / np.arange(1, 101) ** 1.1
    pool["merchant"] = rng.choice([f"m{i:03d}" for i in range(100)], len(pool), p=many / many.sum())
    pool["skewed"] = rng.lognormal(0, 1.5, len(pool))  # heavy right tail: new maxima in every window
    return pool


def drift_flags(args: tuple[int, int, int, str]) -> tuple[bool, bool, bool]:
    """(sandbox flags any column, Evidently's rule flags any, the spread column is flagged)."""
    n_ref, n_cur, seed, case = args
    rng = np.random.default_rng(seed)
    pool = drift_population(np.random.default_rng(12345 + seed))
    picked = rng.permutation(len(pool))
    reference = pool.iloc[picked[:n_ref]].reset_index(drop=True)
    current = pool.iloc[picked[n_ref:n_ref + n_cur]].reset_index(drop=True)
    numeric = (*CREDIT.numeric, "skewed")
    if case in ("spread", "spread_laplace"):  # one column's spread 1.6 times wider in the current rows
        draw = rng.normal if case == "spread" else rng.laplace
        reference = reference.assign(spread=draw(0, 1, n_ref))
        current = current.assign(spread=draw(0, 1.6, n_cur))
        numeric = (*numeric, "spread")
    table = feature_drift(reference, current, numeric, (*CREDIT.categorical, "merchant"))
    spread_flagged = bool(table.loc[table["feature"] == "spread", "drifted"].any()) if case != "aa" else False
    return bool(table["drifted"].any()), bool(table["evidently_drifted"].any()), spread_flagged


def drift_rates(pool: ProcessPoolExecutor, n_ref: int, n_cur: int, seeds: int, case: str = "aa") -> dict:
    runs = list(pool.map(drift_flags, [(n_ref, n_cur, seed, case) for seed in range(seeds)], chunksize=4))
    return {"sandbox": float(np.mean([o[0] for o in runs])), "evidently": float(np.mean([o[1] for o in runs])),
            "spread_flagged": float(np.mean([o[2] for o in runs]))}


# -- latency -----------------------------------------------------------------------------------
def latency_flags(args: tuple[int, int, float, float]) -> tuple[bool, bool]:
    """(the p95 or p99 check warned or failed, either failed) on one simulated run."""
    n, seed, pause_share, slower = args
    rows = pd.DataFrame({"request_id": [f"r{i:06d}" for i in range(n)]})
    results = simulated_results(rows, seed, pause_share, slower, error_rate=0.0)
    evidence = type("Latency", (), {"latency_ratios": percentile_ratios(results, seed=seed)})()
    statuses = [c.status for c in latency_checks(evidence, default_policy())]
    return any(s in (WARNED, FAILED) for s in statuses), FAILED in statuses


def latency_rates(pool: ProcessPoolExecutor, n: int, seeds: int, pause_share: float, slower: float) -> dict:
    runs = list(pool.map(latency_flags, [(n, seed, pause_share, slower) for seed in range(seeds)], chunksize=4))
    return {"flagged": float(np.mean([r[0] for r in runs])), "failed": float(np.mean([r[1] for r in runs]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400, help="equally-good runs per disagreement at n = 2,000")
    parser.add_argument("--power-seeds", type=int, default=200, help="runs per power case at n = 5,000")
    parser.add_argument("--drift-seeds", type=int, default=300, help="runs per drift case")
    parser.add_argument("--quick", action="store_true", help="a handful of seeds: checks the keys, not the rates")
    args = parser.parse_args()
    if args.quick:  # the keys, not the rates: nothing is kept in bench/results
        args.seeds = args.power_seeds = args.drift_seeds = 2
        os.environ["BENCH_QUICK"] = "1"
    began = time.perf_counter()
    few = 1 if args.quick else max(args.seeds // 4, 2)
    with ProcessPoolExecutor(max_workers=2) as pool:
        equal = {d: outcomes(pool, 2000, args.seeds, "aa", d) for d in DISAGREEMENTS}
        small = {d: outcomes(pool, 500, args.seeds, "aa", d) for d in DISAGREEMENTS}
        large = {d: outcomes(pool, 10_000, few, "aa", d) for d in DISAGREEMENTS}
        noisier = outcomes(pool, 5000, args.power_seeds, "noisier")
        moved = outcomes(pool, 5000, args.power_seeds, "threshold")
        sizes = [2000, 3000, 4000, 5000, 5500, 6000, 6500, 7000, 7500, 8000, 9000, 10_000, 12_000, 15_000, 20_000]
        simulated_n = decided_at(pool, 0.20, 2 * few if args.quick else args.seeds // 2, sizes[:2] if args.quick
                                 else sizes)
        drift_small = drift_rates(pool, 800, 700, args.drift_seeds)
        drift_large = drift_rates(pool, 5000, 200, args.drift_seeds)
        spread = drift_rates(pool, 800, 700, args.drift_seeds, "spread")
        spread_laplace = drift_rates(pool, 800, 700, args.drift_seeds, "spread_laplace")
        spiky = latency_rates(pool, 2000, args.seeds, 0.04, 1.0)
        spiky_slow = latency_rates(pool, 2000, args.power_seeds, 0.04, 2.0)
        spiky_slow_5k = latency_rates(pool, 5000, args.power_seeds // 2 or 2, 0.04, 2.0)
        plain_slow = latency_rates(pool, 2000, args.power_seeds, 0.0, 2.0)
    by = {f"{d:.0%}": round(equal[d]["failed"], 4) for d in DISAGREEMENTS}
    publish("gate", {
        "aa_failed_rate_by_disagreement": by,
        "aa_failed_rate_by_disagreement_500": {f"{d:.0%}": round(small[d]["failed"], 4) for d in DISAGREEMENTS},
        "aa_failed_rate_by_disagreement_10000": {f"{d:.0%}": round(large[d]["failed"], 4) for d in DISAGREEMENTS},
        "aa_failed_checks": {f"{d:.0%}": equal[d]["failed_checks"] for d in DISAGREEMENTS},
        "not_yet_rate_equal_models_2k": {f"{d:.0%}": round(equal[d]["not_yet"], 4) for d in DISAGREEMENTS},
        "power_2pt_5k": round(min(noisier["failed"], moved["failed"]), 4),
        "power_2pt_5k_noisier": round(noisier["failed"], 4), "power_2pt_5k_threshold": round(moved["failed"], 4),
        "accuracy_gap_noisier": round(noisier["mean_accuracy_gap"], 4),
        "accuracy_gap_threshold": round(moved["mean_accuracy_gap"], 4),
        "labels_needed_accuracy": {"disagreement": "20%", "run_size": 2000,
                                   "estimate": equal[0.20]["labels_needed_median"], "simulated": simulated_n},
        "drift_aa_any_column_rate": round(max(drift_small["sandbox"], drift_large["sandbox"]), 4),
        "drift_aa_any_column_rate_800_700": round(drift_small["sandbox"], 4),
        "drift_aa_any_column_rate_5000_200": round(drift_large["sandbox"], 4),
        "evidently_aa_any_column_rate_800_700": round(drift_small["evidently"], 4),
        "evidently_aa_any_column_rate_5000_200": round(drift_large["evidently"], 4),
        "drift_power_spread_1_6x": round(spread["spread_flagged"], 4),
        "drift_power_spread_1_6x_laplace": round(spread_laplace["spread_flagged"], 4),
        "latency_aa_warn_rate_spiky": round(spiky["flagged"], 4),
        "latency_failed_2x_spiky": round(spiky_slow["failed"], 4),
        "latency_failed_2x_spiky_5k": round(spiky_slow_5k["failed"], 4),
        "latency_failed_2x": round(plain_slow["failed"], 4),
        "seeds": {"aa": args.seeds, "power": args.power_seeds, "drift": args.drift_seeds},
        "seconds": round(time.perf_counter() - began, 1)})


if __name__ == "__main__":
    main()
