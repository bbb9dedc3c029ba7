"""The paired bootstrap of every classification metric, computed for all resamples at once.

A resample of n requests is a vector of counts (how often each request was drawn); every
metric of a resample is then a weighted sum over the original requests: accuracy and the
per-class counts behind precision, recall and F1 (positive-class, macro and weighted) from a
weighted confusion matrix, log loss as a weighted mean, and ROC AUC as the weighted
Mann-Whitney statistic over the scores sorted once (ties count half; one class against the
rest, averaged, when there are more than two). The draws are those of
`uncertainty.metric_differences` (the same generator, in the same order), so the interval is
the same to the last digit; only the loop over resamples is gone.

Above `large_sample.LARGE_SAMPLE` rows the index draws would not fit in memory: resamples are
then Poisson(1) counts (the Poisson bootstrap), drawn a few at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
AVERAGED_METRICS = ("precision_macro", "recall_macro", "f1_macro", "precision_weighted", "recall_weighted",
                    "f1_weighted")
POISSON_ABOVE = 20_000  # rows: index draws of (resamples x rows) stop fitting in memory
POISSON_CHUNK = 25


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) draw counts, from the same index draws `metric_differences` makes."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot)[:, None] * n + index).ravel()
    return np.bincount(offsets, minlength=n_boot * n).reshape(n_boot, n).astype(float)


def resample_chunks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples' counts, all at once up to `POISSON_ABOVE` rows, else Poisson(1) counts
    `POISSON_CHUNK` resamples at a time."""
    if n <= POISSON_ABOVE:
        yield resample_counts(n, n_boot, seed)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, POISSON_CHUNK):
        yield rng.poisson(1.0, size=(min(POISSON_CHUNK, n_boot - start), n)).astype(float)


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


def _weighted_log_loss(weights: np.ndarray, row_loss: np.ndarray) -> np.ndarray:
    missing = np.isnan(row_loss)
    out = _ratio(weights @ np.where(missing, 0.0, row_loss), weights.sum(axis=1))
    if missing.any():
        out[weights[:, missing].sum(axis=1) > 0] = np.nan
    return out


def weighted_class_metrics(weights: np.ndarray, truth: np.ndarray, predicted: np.ndarray, k: int,
                           proba: np.ndarray | None, positive: int | None) -> dict[str, np.ndarray]:
    """Each metric of `quality.classification_metrics`, for every resample (row of `weights`).
    `truth` and `predicted` are class positions (0..k-1); `positive` the positive class's
    position for two classes, else None."""
    cell = truth * k + predicted
    confusion = np.stack([np.bincount(cell, weights=w, minlength=k * k) for w in weights]).reshape(-1, k, k)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    said, actual = confusion.sum(axis=1), confusion.sum(axis=2)
    n = weights.sum(axis=1)
    out = {"accuracy": _ratio(tp.sum(axis=1), n)}
    present = (said + actual) > 0
    zero = np.zeros_like(tp)
    per_class = {"precision": np.where(said > 0, _ratio(tp, said), zero),
                 "recall": np.where(actual > 0, _ratio(tp, actual), zero),
                 "f1": np.where(said + actual > 0, _ratio(2 * tp, said + actual), zero)}
    for name, values in per_class.items():
        out[f"{name}_macro"] = _ratio((values * present).sum(axis=1), present.sum(axis=1))
        out[f"{name}_weighted"] = _ratio((values * actual).sum(axis=1), actual.sum(axis=1))
    eps = float(np.finfo(float).eps)
    if positive is not None:
        p_tp, p_said, p_actual = tp[:, positive], said[:, positive], actual[:, positive]
        out.update({"precision": _ratio(p_tp, p_said), "recall": _ratio(p_tp, p_actual),
                    "f1": _ratio(2 * p_tp, p_said + p_actual)})
    if proba is None:
        nothing = np.full(weights.shape[0], np.nan)
        out.update({"roc_auc": nothing, "log_loss": nothing.copy()})
        return out
    if positive is not None:
        is_pos, score = truth == positive, proba[:, positive]
        p = np.clip(score, eps, 1 - eps)
        with np.errstate(invalid="ignore"):
            row_loss = -np.where(is_pos, np.log(p), np.log(1 - p))
        out.update({"roc_auc": weighted_auc(weights, is_pos, score), "log_loss": _weighted_log_loss(weights, row_loss)})
        return out
    aucs = np.vstack([weighted_auc(weights, truth == j, proba[:, j]) for j in range(k)])
    chosen = np.clip(proba[np.arange(truth.size), truth], eps, 1 - eps)
    out.update({"roc_auc": aucs.mean(axis=0), "log_loss": _weighted_log_loss(weights, -np.log(chosen))})
    return out


def class_bootstrap(truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray, k: int,
                    champion_proba: np.ndarray | None, challenger_proba: np.ndarray | None, positive: int | None,
                    n_boot: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """metric -> the challenger-minus-champion difference in each of `n_boot` paired resamples."""
    gaps: dict[str, list[np.ndarray]] = {}
    for weights in resample_chunks(truth.size, n_boot, seed):
        a = weighted_class_metrics(weights, truth, champion, k, champion_proba, positive)
        b = weighted_class_metrics(weights, truth, challenger, k, challenger_proba, positive)
        for name in a:
            gaps.setdefault(name, []).append(b[name] - a[name])
    return {name: np.concatenate(parts) for name, parts in gaps.items()}
