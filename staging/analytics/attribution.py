"""Two models' feature attributions on the same rows, compared: each feature's mean |attribution|
with a bootstrap interval, the two rankings, their nDCG, and the shares that moved.

The attributions are given (rows x features, one matrix per model, the same rows in the same
order), however they were computed. Rows may carry weights: an explanation samples every
disagreement and only some of the agreeing rows, so each row stands for the rows of its stratum
it was drawn from (`weights`), and the bootstrap resamples within each stratum (`strata`).

The nDCG is SageMaker Clarify's feature-attribution check: the baseline's (the champion's) mean
|attribution| is each feature's relevance, the live model's (the challenger's) mean |attribution|
orders the features, and nDCG = DCG / ideal DCG with a log2(position + 1) discount. It equals
scikit-learn's `ndcg_score([baseline], [live])` (ties in the live order share their gain, as
there). 1.0 is the same ranking; Clarify flags a violation below 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..roles import CHALLENGER, CHAMPION
from .bootstrap import resample_counts
from .uncertainty import Interval

N_BOOT = 1000
CLARIFY_NDCG = 0.9


def ndcg(baseline: np.ndarray, live: np.ndarray) -> float:
    """Clarify's nDCG of the live ranking against the baseline's relevance (mean |attribution|s)."""
    gains = np.abs(np.asarray(baseline, dtype=float))
    order_by = np.asarray(live, dtype=float)
    discount = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = float(np.sort(gains)[::-1] @ discount)
    if ideal == 0.0:
        return float("nan")
    return _dcg_with_ties(gains, order_by, discount) / ideal


def _dcg_with_ties(gains: np.ndarray, scores: np.ndarray, discount: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_gains = scores[order], gains[order]
    total, start = 0.0, 0
    while start < len(order):
        end = start + 1
        while end < len(order) and sorted_scores[end] == sorted_scores[start]:
            end += 1
        total += sorted_gains[start:end].mean() * discount[start:end].sum()
        start = end
    return total


def stratified_counts(strata: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) draw counts: each resample draws each stratum's rows with replacement, as
    many as the stratum has (`bootstrap.resample_counts` within each stratum)."""
    counts = np.zeros((n_boot, len(strata)))
    for offset, stratum in enumerate(np.unique(strata)):
        members = np.flatnonzero(strata == stratum)
        counts[:, members] = resample_counts(len(members), n_boot, seed + offset)
    return counts


@dataclass(frozen=True)
class AttributionComparison:
    """The two models' global attributions for one explained output."""

    output: str  # what was explained, in words ("P(default = 1)", "the prediction")
    table: pd.DataFrame  # one row per feature, sorted by the champion's mean |attribution|
    ndcg: float
    ndcg_interval: Interval
    rows: int

    @property
    def ranking_moved(self) -> bool:
        return self.ndcg < CLARIFY_NDCG

    def top(self, role: str, k: int = 3) -> list[str]:
        return self.table.sort_values(f"{role}_mean_abs", ascending=False)["feature"].head(k).tolist()

    def biggest_shifts(self, k: int = 3) -> pd.DataFrame:
        """The features whose share of the explanation moved most, with intervals that exclude 0 first."""
        table = self.table.assign(_clear=~((self.table["shift_low"] <= 0) & (self.table["shift_high"] >= 0)),
                                  _size=self.table["share_shift"].abs())
        return table.sort_values(["_clear", "_size"], ascending=False).drop(columns=["_clear", "_size"]).head(k)


def compare_attributions(champion: np.ndarray, challenger: np.ndarray, features: list[str], output: str,
                         weights: np.ndarray | None = None, strata: np.ndarray | None = None,
                         n_boot: int = N_BOOT, seed: int = 0) -> AttributionComparison:
    """Mean |attribution| per feature for both models (weighted), 95% percentile intervals by a
    stratified bootstrap over the rows (the same resamples for both models: the comparison is
    paired), each feature's share of the model's total and the share's shift, and the nDCG."""
    values = {CHAMPION: np.abs(np.asarray(champion, dtype=float)),
              CHALLENGER: np.abs(np.asarray(challenger, dtype=float))}
    n = len(values[CHAMPION])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    counts = stratified_counts(np.zeros(n) if strata is None else np.asarray(strata), n_boot, seed) * w
    point, boot = {}, {}
    for role, magnitude in values.items():
        point[role] = (w @ magnitude) / w.sum()
        boot[role] = (counts @ magnitude) / counts.sum(axis=1, keepdims=True)
    shares = {role: point[role] / max(point[role].sum(), 1e-300) for role in values}
    boot_shares = {role: boot[role] / np.maximum(boot[role].sum(axis=1, keepdims=True), 1e-300) for role in values}
    shift_boot = boot_shares[CHALLENGER] - boot_shares[CHAMPION]
    table = pd.DataFrame({"feature": features})
    for role in values:
        table[f"{role}_mean_abs"] = point[role]
        table[f"{role}_low"] = np.percentile(boot[role], 2.5, axis=0)
        table[f"{role}_high"] = np.percentile(boot[role], 97.5, axis=0)
        table[f"{role}_share"] = shares[role]
        table[f"{role}_share_low"] = np.percentile(boot_shares[role], 2.5, axis=0)
        table[f"{role}_share_high"] = np.percentile(boot_shares[role], 97.5, axis=0)
        table[f"{role}_rank"] = pd.Series(point[role]).rank(ascending=False, method="min").astype(int).to_numpy()
    table["share_shift"] = shares[CHALLENGER] - shares[CHAMPION]
    table["shift_low"] = np.percentile(shift_boot, 2.5, axis=0)
    table["shift_high"] = np.percentile(shift_boot, 97.5, axis=0)
    boot_ndcg = np.array([ndcg(boot[CHAMPION][b], boot[CHALLENGER][b]) for b in range(n_boot)])
    low, high = np.nanpercentile(boot_ndcg, [2.5, 97.5]) if np.isfinite(boot_ndcg).any() else (np.nan, np.nan)
    table = table.sort_values(f"{CHAMPION}_mean_abs", ascending=False).reset_index(drop=True)
    estimate = ndcg(point[CHAMPION], point[CHALLENGER])
    return AttributionComparison(output, table, estimate, Interval(estimate, float(low), float(high)), n)


def row_reasons(values: np.ndarray, features: list[str], toward: float = 1.0, top: int = 3) -> str:
    """One row's strongest attributions in words, those pushing toward the answer first:
    "loan_amount +0.21, age -0.12". `toward` is +1 when a higher explained output means the
    model's answer, -1 when it means the other answer."""
    values = np.asarray(values, dtype=float)
    strongest = np.argsort(-np.abs(values), kind="stable")[:top]
    order = sorted(strongest.tolist(), key=lambda i: -values[i] * toward)
    return ", ".join(f"{features[i]} {values[i]:+.2f}" for i in order if np.isfinite(values[i]))
