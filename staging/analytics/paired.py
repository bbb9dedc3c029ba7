"""Paired comparisons on the labelled requests both models answered: the accuracy difference
with McNemar's test and Cohen's kappa, who is right where they differ, and every metric's
difference with a paired 95% interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION
from .compare import agree_mask
from .large_sample import LARGE_SAMPLE, classification_differences, regression_differences
from .quality import classification_metrics, label_text, positive_class, regression_metrics
from .uncertainty import cohens_kappa, mcnemar_exact, metric_differences, paired_difference_ci


def paired_correctness(both: pd.DataFrame, target: str) -> dict:
    """Accuracy difference (paired bootstrap CI), McNemar's exact p and Cohen's kappa, on the
    labelled requests both models answered."""
    truth = label_text(both[target])
    champion = both[f"{CHAMPION}_prediction"].astype(str) == truth
    challenger = both[f"{CHALLENGER}_prediction"].astype(str) == truth
    return {"accuracy_difference": paired_difference_ci(champion, challenger),
            "mcnemar_p": mcnemar_exact(champion, challenger),
            "kappa": cohens_kappa(both[f"{CHAMPION}_prediction"], both[f"{CHALLENGER}_prediction"])}


def challenger_right_share(both: pd.DataFrame, target: str, task: str) -> float | None:
    """Among labelled disagreements: how often the challenger is the closer (or correct) one."""
    differ = both[~agree_mask(both, task)]
    if differ.empty:
        return None
    if task == "regression":
        champion_err = (differ[f"{CHAMPION}_score"] - differ[target]).abs()
        challenger_err = (differ[f"{CHALLENGER}_score"] - differ[target]).abs()
        return float((challenger_err < champion_err).mean())
    return float((differ[f"{CHALLENGER}_prediction"].astype(str) == label_text(differ[target])).mean())


def metric_difference_table(rows: pd.DataFrame, target: str, task: str) -> dict:
    """Every quality metric's difference with a paired 95% interval (and, for a regression,
    Wilcoxon's signed-rank test on the paired absolute errors). Up to `LARGE_SAMPLE` labelled
    requests, a bootstrap over requests; above, the O(n) methods of `large_sample`."""
    if rows.empty:
        return {}
    large = len(rows) > LARGE_SAMPLE
    if task == "regression":
        truth = rows[target].to_numpy(float)
        a, b = rows[f"{CHAMPION}_score"].to_numpy(float), rows[f"{CHALLENGER}_score"].to_numpy(float)

        def metrics(y, pred):
            return {k: v for k, v in regression_metrics(y, pred).items() if k != "labelled"}

        gaps = np.abs(a - truth) - np.abs(b - truth)
        wilcoxon = float(stats.wilcoxon(gaps).pvalue) if np.any(gaps != 0) else 1.0
        table = regression_differences(truth, a, b) if large else metric_differences(truth, a, b, metrics, 500)
        return {"differences": _with_method(table), "wilcoxon_p": wilcoxon}
    truth = label_text(rows[target])
    predicted = {role: rows[f"{role}_prediction"].astype(str) for role in (CHAMPION, CHALLENGER)}
    if large:
        positive = positive_class(truth)
        table = classification_differences(
            truth == positive, predicted[CHAMPION] == positive, predicted[CHALLENGER] == positive,
            predicted[CHAMPION] == truth, predicted[CHALLENGER] == truth,
            rows[f"{CHAMPION}_score"].to_numpy(float), rows[f"{CHALLENGER}_score"].to_numpy(float))
        return {"differences": _with_method(table)}
    labels = sorted(set(truth) | set(predicted[CHAMPION]) | set(predicted[CHALLENGER]))
    codes = {label: i for i, label in enumerate(labels)}
    positive = str(codes[positive_class(truth)])

    def encoded(role: str) -> np.ndarray:
        return np.column_stack([predicted[role].map(codes).to_numpy(float), rows[f"{role}_score"].to_numpy(float)])

    def classifier_metrics(y, pred):
        values = classification_metrics(y.astype(int).astype(str), pred[:, 0].astype(int).astype(str), pred[:, 1],
                                        positive)
        return {k: v for k, v in values.items() if k != "labelled"}

    y = truth.map(codes).to_numpy(float)
    return {"differences": _with_method(metric_differences(y, encoded(CHAMPION), encoded(CHALLENGER),
                                                                   classifier_metrics, 500))}


def _with_method(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"method": "bootstrap over requests", **row} for row in rows])
