"""Quality against labels that arrived late, written out from the definitions.

The formulas are implemented here with numpy and scipy's ranking (ROC AUC as the
Mann-Whitney statistic); the tests check each one against scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..roles import CHALLENGER, CHAMPION
from .compare import answered_by_both


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


def classification_metrics(y_true, y_pred, score, positive: str) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=str)
    y_pred = np.asarray(y_pred, dtype=str)
    tp = float(np.sum((y_pred == positive) & (y_true == positive)))
    fp = float(np.sum((y_pred == positive) & (y_true != positive)))
    fn = float(np.sum((y_pred != positive) & (y_true == positive)))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {"labelled": int(len(y_true)), "accuracy": _ratio(np.sum(y_true == y_pred), len(y_true)),
            "precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc(y_true == positive, score),
            "log_loss": log_loss(y_true == positive, score)}


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    error = np.asarray(y_pred, float) - np.asarray(y_true, float)
    if error.size == 0:
        return {"labelled": 0, "mae": float("nan"), "rmse": float("nan"), "r2": float("nan")}
    truth = np.asarray(y_true, float)
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return {"labelled": int(error.size), "mae": float(np.mean(np.abs(error))),
            "rmse": float(np.sqrt(np.mean(error ** 2))),
            "r2": 1 - float(np.sum(error ** 2)) / spread if spread else float("nan")}


def label_text(values: pd.Series) -> pd.Series:
    """Labels as the same text the prediction parser produces (1.0 -> '1')."""
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return values.map(one)


def positive_class(labels: pd.Series) -> str:
    classes = sorted(set(labels.astype(str)), key=lambda c: (0, float(c)) if _is_number(c) else (1, c))
    return classes[-1] if classes else "1"


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def quality_table(pairs: pd.DataFrame, labels: pd.DataFrame, target: str, task: str) -> pd.DataFrame:
    """One row per model: metrics on the requests that both answered and that have a label."""
    both = answered_by_both(pairs).merge(labels[["request_id", target]].dropna(), on="request_id")
    rows = []
    truth = both[target]
    for role in (CHAMPION, CHALLENGER):
        if task == "regression":
            metrics = regression_metrics(truth, both[f"{role}_score"])
        else:
            truth_text = label_text(truth)
            metrics = classification_metrics(truth_text, both[f"{role}_prediction"].astype(str),
                                             both[f"{role}_score"], positive_class(truth_text))
        rows.append({"model": role, **metrics})
    return pd.DataFrame(rows).set_index("model")


def own_requests_quality(results: pd.DataFrame, labels: pd.DataFrame, target: str, task: str) -> pd.DataFrame:
    """Canary and A/B runs: each request met one model, so each model is judged on the
    labelled requests it answered itself (not paired; the two sets of requests differ)."""
    answered = results[results["status"].eq(200) & results["error"].fillna("").eq("")]
    labelled = answered.merge(labels[["request_id", target]].dropna(), on="request_id")
    rows = []
    for role in (CHAMPION, CHALLENGER):
        part = labelled[labelled["target"] == role]
        if task == "regression":
            metrics = regression_metrics(part[target], part["score"])
        else:
            truth_text = label_text(part[target])
            metrics = classification_metrics(truth_text, part["prediction"].astype(str), part["score"],
                                             positive_class(label_text(labelled[target])) if len(labelled) else "1")
        rows.append({"model": role, **metrics})
    return pd.DataFrame(rows).set_index("model")
