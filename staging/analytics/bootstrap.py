"""The paired bootstrap of every classification metric, computed for all resamples at once.

A resample of n requests is a vector of counts (how often each request was drawn); every
metric of a resample is then a weighted sum over the original requests: accuracy, precision,
recall and F1 from weighted confusion counts, log loss as a weighted mean, and ROC AUC as the
weighted Mann-Whitney statistic over the scores sorted once (ties count half). The draws are
those of `uncertainty.metric_differences` (the same generator, in the same order), so the
interval is the same to the last digit; only the loop over resamples is gone.
"""

from __future__ import annotations

import numpy as np

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) draw counts, from the same index draws `metric_differences` makes."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot)[:, None] * n + index).ravel()
    return np.bincount(offsets, minlength=n_boot * n).reshape(n_boot, n).astype(float)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_auc(weights: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of each weighted resample (rows of `weights`); NaN where a resample holds no
    positive, no negative, or a missing score."""
    if np.isnan(score).any():
        missing = weights[:, np.isnan(score)].sum(axis=1) > 0
    else:
        missing = np.zeros(weights.shape[0], bool)
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_score[1:] != sorted_score[:-1]]))
    w = weights[:, order]
    pos = positive[order]
    pos_w = np.add.reduceat(w * pos, starts, axis=1)
    neg_w = np.add.reduceat(w * ~pos, starts, axis=1)
    neg_below = np.cumsum(neg_w, axis=1) - neg_w
    total_pos, total_neg = pos_w.sum(axis=1), neg_w.sum(axis=1)
    auc = _ratio((pos_w * (neg_below + 0.5 * neg_w)).sum(axis=1), total_pos * total_neg)
    auc[missing] = np.nan
    return auc


def weighted_classification_metrics(weights: np.ndarray, truth: np.ndarray, predicted: np.ndarray,
                                    score: np.ndarray, positive) -> dict[str, np.ndarray]:
    """Each metric of `quality.classification_metrics`, for every resample (row of `weights`)."""
    is_pos, said_pos = truth == positive, predicted == positive
    n = weights.sum(axis=1)
    tp, fp = weights @ (said_pos & is_pos), weights @ (said_pos & ~is_pos)
    fn = weights @ (~said_pos & is_pos)
    eps = float(np.finfo(float).eps)
    p = np.clip(score, eps, 1 - eps)
    with np.errstate(invalid="ignore"):
        row_loss = -np.where(is_pos, np.log(p), np.log(1 - p))
    missing = np.isnan(score)
    log_loss = _ratio(weights @ np.where(missing, 0.0, row_loss), n)
    if missing.any():
        log_loss[weights[:, missing].sum(axis=1) > 0] = np.nan
    return {"accuracy": _ratio(weights @ (truth == predicted), n), "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "roc_auc": weighted_auc(weights, is_pos, score), "log_loss": log_loss}


def classification_bootstrap(truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                             champion_score: np.ndarray, challenger_score: np.ndarray, positive,
                             n_boot: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """metric -> the challenger-minus-champion difference in each of `n_boot` paired resamples."""
    weights = resample_counts(truth.size, n_boot, seed)
    a = weighted_classification_metrics(weights, truth, champion, champion_score, positive)
    b = weighted_classification_metrics(weights, truth, challenger, challenger_score, positive)
    return {name: b[name] - a[name] for name in METRICS}
