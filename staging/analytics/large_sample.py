"""Challenger-minus-champion intervals for every quality metric when labels are many.

Resampling indices costs O(resamples x rows): seconds at 20k labelled requests, minutes at
a million. Above `LARGE_SAMPLE` rows each metric gets the method that gives the same
interval in O(rows):

- accuracy, precision, recall, F1: the paired bootstrap itself, drawn as one multinomial over
  the 32 cells (truth, each model's prediction, each model's correctness) instead of over
  the rows; every resample's metrics follow from its cell counts. This is exact, not an
  approximation: a resample of rows is a multinomial draw of cell counts.
- ROC AUC: DeLong's paired variance of the two AUCs (DeLong, DeLong & Clarke-Pearson 1988),
  from each model's placement values.
- log loss, MAE: means of per-request differences, so a normal interval on the mean
  difference; RMSE and R² through the delta method on the two mean squared errors.

Each row says which method it used; the tests compare every interval with the index
bootstrap on the same data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.stats import rankdata

LARGE_SAMPLE = 20_000
Z95 = float(stats.norm.ppf(0.975))


def _row(metric: str, a: Any, b: Any, low: Any, high: Any, method: str) -> dict:
    return {"metric": metric, "champion": float(a), "challenger": float(b), "difference": float(b - a),
            "low": float(low), "high": float(high), "method": method}


def _normal(metric: str, a: float, b: float, se: float) -> dict:
    return _row(metric, a, b, (b - a) - Z95 * se, (b - a) + Z95 * se, "normal")


def count_metrics(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall, F1 of both models from cell counts, shape (..., 32): the
    cell index is truth_positive*16 + a_says_positive*8 + b_says_positive*4 + a_right*2 + b_right."""
    index = np.arange(32)
    truth, a_pos, b_pos = (index >> 4) & 1, (index >> 3) & 1, (index >> 2) & 1
    a_right, b_right = (index >> 1) & 1, index & 1
    n = cells.sum(axis=-1)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for side, says, right in (("a", a_pos, a_right), ("b", b_pos, b_right)):
            tp = cells[..., (says == 1) & (truth == 1)].sum(axis=-1)
            fp = cells[..., (says == 1) & (truth == 0)].sum(axis=-1)
            fn = cells[..., (says == 0) & (truth == 1)].sum(axis=-1)
            out[f"accuracy_{side}"] = cells[..., right == 1].sum(axis=-1) / n
            out[f"precision_{side}"] = tp / (tp + fp)
            out[f"recall_{side}"] = tp / (tp + fn)
            out[f"f1_{side}"] = 2 * tp / (2 * tp + fp + fn)
    return out


def delong_auc_difference(truth: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> tuple[float, float, float]:
    """(AUC of a, AUC of b, standard error of b - a), DeLong's method with midranks."""
    truth = np.asarray(truth, bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    aucs, v10, v01 = [], [], []
    for score in (np.asarray(score_a, float), np.asarray(score_b, float)):
        all_ranks = rankdata(score)
        pos_ranks, neg_ranks = rankdata(score[truth]), rankdata(score[~truth])
        aucs.append((all_ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))
        v10.append((all_ranks[truth] - pos_ranks) / negatives)  # each positive: share of negatives below it
        v01.append(1 - (all_ranks[~truth] - neg_ranks) / positives)  # each negative: share of positives above
    s10, s01 = np.cov(np.vstack(v10)), np.cov(np.vstack(v01))
    variance = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / positives
                + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / negatives)
    return float(aucs[0]), float(aucs[1]), float(np.sqrt(max(variance, 0.0)))


def classification_differences(truth_positive, a_positive, b_positive, a_right, b_right, score_a, score_b,
                               n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Rows like `uncertainty.metric_differences`, for a classifier with many labels."""
    columns = [np.asarray(c, bool).astype(np.int64) for c in (truth_positive, a_positive, b_positive, a_right,
                                                               b_right)]
    cell = columns[0] * 16 + columns[1] * 8 + columns[2] * 4 + columns[3] * 2 + columns[4]
    counts = np.bincount(cell, minlength=32).astype(float)
    draws = np.random.default_rng(seed).multinomial(int(counts.sum()), counts / counts.sum(), size=n_boot)
    base, boot = count_metrics(counts), count_metrics(draws.astype(float))
    rows = []
    for metric in ("accuracy", "precision", "recall", "f1"):
        gaps = boot[f"{metric}_b"] - boot[f"{metric}_a"]
        gaps = gaps[~np.isnan(gaps)]
        low, high = np.percentile(gaps, [2.5, 97.5]) if gaps.size else (np.nan, np.nan)
        rows.append(_row(metric, base[f"{metric}_a"], base[f"{metric}_b"], low, high, "bootstrap over cells"))
    truth = columns[0].astype(bool)
    if truth.all() or not truth.any():
        rows.append(_row("roc_auc", np.nan, np.nan, np.nan, np.nan, "DeLong"))
    else:
        auc_a, auc_b, se = delong_auc_difference(truth, score_a, score_b)
        rows.append({**_normal("roc_auc", auc_a, auc_b, se), "method": "DeLong"})
    eps = float(np.finfo(float).eps)
    losses = [-np.where(truth, np.log(np.clip(s, eps, 1 - eps)), np.log(1 - np.clip(s, eps, 1 - eps)))
              for s in (np.asarray(score_a, float), np.asarray(score_b, float))]
    rows.append(_normal("log_loss", losses[0].mean(), losses[1].mean(), _mean_se(losses[1] - losses[0])))
    return rows


def regression_differences(truth, prediction_a, prediction_b) -> list[dict]:
    """MAE, RMSE and R² differences with normal and delta-method intervals."""
    truth = np.asarray(truth, float)
    error_a, error_b = np.asarray(prediction_a, float) - truth, np.asarray(prediction_b, float) - truth
    abs_a, abs_b = np.abs(error_a), np.abs(error_b)
    sq_a, sq_b = error_a ** 2, error_b ** 2
    mse_a, mse_b = sq_a.mean(), sq_b.mean()
    rows = [_normal("mae", abs_a.mean(), abs_b.mean(), _mean_se(abs_b - abs_a))]
    # RMSE: sqrt(mse_b) - sqrt(mse_a), gradient (-1 / 2 sqrt(mse_a), 1 / 2 sqrt(mse_b))
    gradient_terms = sq_b / (2 * np.sqrt(mse_b)) - sq_a / (2 * np.sqrt(mse_a))
    rows.append(_normal("rmse", np.sqrt(mse_a), np.sqrt(mse_b), _mean_se(gradient_terms)))
    spread = float(np.mean((truth - truth.mean()) ** 2))
    if spread:
        rows.append(_normal("r2", 1 - mse_a / spread, 1 - mse_b / spread, _mean_se(sq_a - sq_b) / spread))
    else:
        rows.append(_row("r2", np.nan, np.nan, np.nan, np.nan, "normal"))
    return rows


def _mean_se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
