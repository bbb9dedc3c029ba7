"""Comparisons of the two models on labelled requests: in shadow runs, paired on the requests
both answered (the accuracy difference with McNemar's test and Cohen's kappa, who is right
where they differ, every metric's difference with a paired 95% interval); in canary and A/B
runs, each model on its own requests (`unpaired_difference_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION
from .bootstrap import classification_bootstrap
from .compare import agree_mask
from .large_sample import LARGE_SAMPLE, classification_differences, regression_differences
from .quality import classification_metrics, label_text, positive_class, regression_metrics
from .uncertainty import (
    cohens_kappa,
    difference_rows,
    mcnemar_exact,
    metric_differences,
    paired_difference_ci,
    unpaired_metric_differences,
)


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


BOOTSTRAP_RESAMPLES = 500


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
    counts = _based_on(truth, predicted)
    if large:
        positive = positive_class(truth)
        table = classification_differences(
            truth == positive, predicted[CHAMPION] == positive, predicted[CHALLENGER] == positive,
            predicted[CHAMPION] == truth, predicted[CHALLENGER] == truth,
            rows[f"{CHAMPION}_score"].to_numpy(float), rows[f"{CHALLENGER}_score"].to_numpy(float))
        return {"differences": _with_method(table, counts)}
    positive = positive_class(truth)
    scores = {role: rows[f"{role}_score"].to_numpy(float) for role in (CHAMPION, CHALLENGER)}
    labels = {role: predicted[role].to_numpy(str) for role in (CHAMPION, CHALLENGER)}
    base = {role: classification_metrics(truth, labels[role], scores[role], positive) for role in labels}
    # every resample at once (the same draws as `metric_differences` makes, 500 of them)
    boot = classification_bootstrap(truth.to_numpy(str), labels[CHAMPION], labels[CHALLENGER], scores[CHAMPION],
                                    scores[CHALLENGER], positive, n_boot=BOOTSTRAP_RESAMPLES)
    table = difference_rows({name: base[CHAMPION][name] for name in boot},
                            {name: base[CHALLENGER][name] for name in boot}, boot)
    return {"differences": _with_method(table, counts)}


def _based_on(truth: pd.Series, predicted: dict[str, pd.Series]) -> dict[str, str]:
    """What each classification metric is computed on, as counts a reader can weigh an interval by:
    precision on the requests each model called positive, recall on the truly positive ones."""
    positive = positive_class(truth)
    said = {role: int((p == positive).sum()) for role, p in predicted.items()}
    actual = int((truth == positive).sum())
    everything = f"{len(truth):,} labelled requests"
    return {"accuracy": everything, "roc_auc": everything, "log_loss": everything, "f1": everything,
            "precision": f"{said[CHAMPION]:,} / {said[CHALLENGER]:,} called positive",
            "recall": f"{actual:,} truly positive"}


def _with_method(rows: list[dict], based_on: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"method": "bootstrap over requests", **row,
                          **({"based on": based_on.get(row["metric"], "")} if based_on else {})} for row in rows])


def unpaired_difference_table(results: pd.DataFrame, labels: pd.DataFrame, target: str, task: str) -> dict:
    """Canary and A/B runs: every metric's challenger-minus-champion difference, each model on
    the labelled requests it answered itself, with a 95% interval that resamples each arm on
    its own (the two sets of requests are independent, not pairs)."""
    answered = results[results["status"].eq(200) & results["error"].fillna("").eq("")]
    labelled = answered.merge(labels[["request_id", target]].dropna(), on="request_id")
    arms = {role: labelled[labelled["target"] == role] for role in (CHAMPION, CHALLENGER)}
    if any(part.empty for part in arms.values()):
        return {}
    method = "unpaired bootstrap (each model's own requests)"
    if task == "regression":
        def regression(y, pred):
            return {k: v for k, v in regression_metrics(y, pred).items() if k != "labelled"}

        a, b = arms[CHAMPION], arms[CHALLENGER]
        rows = unpaired_metric_differences(a[target].to_numpy(float), a["score"].to_numpy(float),
                                           b[target].to_numpy(float), b["score"].to_numpy(float), regression)
    else:
        truth = {role: label_text(part[target]) for role, part in arms.items()}
        positive = positive_class(label_text(labelled[target]))

        def classifier(y, pred):
            values = classification_metrics(y, pred[:, 0], pred[:, 1].astype(float), positive)
            return {k: v for k, v in values.items() if k != "labelled"}

        def predictions(role: str) -> np.ndarray:
            return np.column_stack([arms[role]["prediction"].astype(str).to_numpy(object),
                                    arms[role]["score"].to_numpy(float)])

        rows = unpaired_metric_differences(truth[CHAMPION].to_numpy(str), predictions(CHAMPION),
                                           truth[CHALLENGER].to_numpy(str), predictions(CHALLENGER), classifier)
    return {"differences": pd.DataFrame([{"method": method, **row} for row in rows])}
