"""Quality against labels that arrived late, written out from the definitions.

The formulas are implemented here with numpy and scipy's ranking (ROC AUC as the
Mann-Whitney statistic, one class against the rest when there are more than two); the tests
check each one against scikit-learn. Classes and probabilities come from `classes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..roles import CHALLENGER, CHAMPION
from .classes import ClassSpace, label_text
from .compare import answered_by_both
from .latency import answered


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    y_true = np.asarray(y_true, bool)
    score = np.asarray(score, float)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0 or np.isnan(score).any():
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(y_true, score, eps: float = float(np.finfo(float).eps)) -> float:
    """Mean negative log-likelihood of the true class under the positive-class probability."""
    y = np.asarray(y_true, bool)
    p = np.clip(np.asarray(score, float), eps, 1 - eps)
    if y.size == 0 or np.isnan(p).any():
        return float("nan")
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


def multiclass_auc(truth_index: np.ndarray, proba: np.ndarray) -> float:
    """One-vs-rest ROC AUC averaged over the classes (scikit-learn's multi_class="ovr",
    average="macro"); NaN when a class has no example or no counter-example."""
    values = [roc_auc(truth_index == j, proba[:, j]) for j in range(proba.shape[1])]
    return float(np.mean(values)) if values and not np.isnan(values).any() else float("nan")


def multiclass_log_loss(truth_index: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log of the probability each answer gave the true class (clipped, as
    scikit-learn's `log_loss` is)."""
    if truth_index.size == 0 or np.isnan(proba).any() or (truth_index < 0).any():
        return float("nan")
    eps = float(np.finfo(float).eps)
    chosen = np.clip(proba[np.arange(truth_index.size), truth_index], eps, 1 - eps)
    return float(-np.mean(np.log(chosen)))


def averaged_scores(truth_index: np.ndarray, predicted_index: np.ndarray, k: int) -> dict[str, float]:
    """Macro and weighted precision, recall and F1 over the classes the labels or answers hold
    (scikit-learn's averages: a class never answered counts as precision 0)."""
    cells = np.bincount(truth_index * k + predicted_index, minlength=k * k).reshape(k, k) \
        if truth_index.size else np.zeros((k, k))
    tp, said, actual = np.diag(cells).astype(float), cells.sum(axis=0).astype(float), cells.sum(axis=1).astype(float)
    present = (said + actual) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(said > 0, tp / np.where(said > 0, said, 1), 0.0)
        recall = np.where(actual > 0, tp / np.where(actual > 0, actual, 1), 0.0)
        f1 = np.where(said + actual > 0, 2 * tp / np.where(said + actual > 0, said + actual, 1), 0.0)
    out = {}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[f"{name}_macro"] = float(values[present].mean()) if present.any() else float("nan")
        out[f"{name}_weighted"] = _ratio(float((values * actual).sum()), float(actual.sum()))
    return out


def classification_metrics(y_true, y_pred, space: ClassSpace, proba: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy; macro and weighted precision, recall and F1; for two classes the positive
    class's precision, recall and F1; ROC AUC and log loss only from class probabilities
    (`proba`, n x classes), NaN without them."""
    y_true = np.asarray(y_true, dtype=str)
    y_pred = np.asarray(y_pred, dtype=str)
    k = len(space.classes)
    lookup = {c: i for i, c in enumerate(space.classes)}
    truth_index = np.array([lookup.get(v, -1) for v in y_true], dtype=np.int64)
    predicted_index = np.array([lookup.get(v, -1) for v in y_pred], dtype=np.int64)
    known = (truth_index >= 0) & (predicted_index >= 0)
    out: dict[str, float] = {"labelled": int(len(y_true)), "accuracy": _ratio(np.sum(y_true == y_pred), len(y_true))}
    out.update(averaged_scores(truth_index[known], predicted_index[known], k))
    if space.binary and space.positive is not None:
        positive = space.positive
        tp = float(np.sum((y_pred == positive) & (y_true == positive)))
        fp = float(np.sum((y_pred == positive) & (y_true != positive)))
        fn = float(np.sum((y_pred != positive) & (y_true == positive)))
        out.update({"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn)})
    if proba is None:
        out.update({"roc_auc": float("nan"), "log_loss": float("nan")})
    elif space.binary and space.positive is not None:
        score = proba[:, space.classes.index(space.positive)]
        out.update({"roc_auc": roc_auc(y_true == space.positive, score),
                    "log_loss": log_loss(y_true == space.positive, score)})
    else:
        out.update({"roc_auc": multiclass_auc(truth_index, proba), "log_loss": multiclass_log_loss(truth_index, proba)})
    return out


def per_class_table(y_true, predictions: dict[str, np.ndarray], space: ClassSpace) -> pd.DataFrame:
    """One row per class: its support and each model's precision, recall and F1 on it."""
    y_true = np.asarray(y_true, dtype=str)
    rows = []
    for name in space.classes:
        row: dict = {"class": name, "support": int(np.sum(y_true == name))}
        for role, y_pred in predictions.items():
            y_pred = np.asarray(y_pred, dtype=str)
            tp = float(np.sum((y_pred == name) & (y_true == name)))
            said, actual = float(np.sum(y_pred == name)), float(np.sum(y_true == name))
            row.update({f"{role}_precision": _ratio(tp, said), f"{role}_recall": _ratio(tp, actual),
                        f"{role}_f1": _ratio(2 * tp, said + actual)})
        rows.append(row)
    return pd.DataFrame(rows)


def confusion_matrix(y_true, y_pred, space: ClassSpace) -> pd.DataFrame:
    """Counts of (true class, answered class), every class of the run on both axes."""
    table = pd.crosstab(pd.Series(np.asarray(y_true, dtype=str), name="true"),
                        pd.Series(np.asarray(y_pred, dtype=str), name="answered"))
    return table.reindex(index=list(space.classes), columns=list(space.classes), fill_value=0)


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    error = np.asarray(y_pred, float) - np.asarray(y_true, float)
    if error.size == 0:
        return {"labelled": 0, "mae": float("nan"), "rmse": float("nan"), "r2": float("nan")}
    truth = np.asarray(y_true, float)
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return {"labelled": int(error.size), "mae": float(np.mean(np.abs(error))),
            "rmse": float(np.sqrt(np.mean(error ** 2))),
            "r2": 1 - float(np.sum(error ** 2)) / spread if spread else float("nan")}


def quality_table(pairs: pd.DataFrame, labels: pd.DataFrame, target: str, task: str,
                  space: ClassSpace | None = None, proba: dict | None = None) -> pd.DataFrame:
    """One row per model: metrics on the requests that both answered and that have a label.
    `proba` holds each role's probability matrix, row-aligned with `pairs` (None: labels only)."""
    ok = answered_by_both(pairs)
    both = ok.reset_index().merge(labels[["request_id", target]].dropna(), on="request_id")
    rows = []
    truth = both[target]
    for role in (CHAMPION, CHALLENGER):
        if task == "regression":
            metrics = regression_metrics(truth, both[f"{role}_score"])
        else:
            assert space is not None
            matrix = (proba or {}).get(role)
            metrics = classification_metrics(label_text(truth), both[f"{role}_prediction"].astype(str), space,
                                             None if matrix is None else matrix[both["index"].to_numpy()])
        rows.append({"model": role, **metrics})
    return pd.DataFrame(rows).set_index("model")


def own_requests_quality(results: pd.DataFrame, labels: pd.DataFrame, target: str, task: str,
                         space: ClassSpace | None = None, proba: np.ndarray | None = None) -> pd.DataFrame:
    """Canary and A/B runs: each request met one model, so each model is judged on the
    labelled requests it answered itself (not paired; the two sets of requests differ).
    `proba` is row-aligned with `results`."""
    answered_rows = results[answered(results)]
    labelled = answered_rows.reset_index().merge(labels[["request_id", target]].dropna(), on="request_id")
    rows = []
    for role in (CHAMPION, CHALLENGER):
        part = labelled[labelled["target"] == role]
        if task == "regression":
            metrics = regression_metrics(part[target], part["score"])
        else:
            assert space is not None
            metrics = classification_metrics(label_text(part[target]), part["prediction"].astype(str), space,
                                             None if proba is None else proba[part["index"].to_numpy()])
        rows.append({"model": role, **metrics})
    return pd.DataFrame(rows).set_index("model")
