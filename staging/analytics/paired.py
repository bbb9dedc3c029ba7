"""Comparisons of the two models on labelled requests: in shadow runs, paired on the requests
both answered (the accuracy difference with McNemar's test and Cohen's kappa, who is right
where they differ, every metric's difference with a paired 95% interval); in canary and A/B
runs, each model on its own requests (`unpaired_difference_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION
from .bootstrap import class_bootstrap
from .classes import LABELS_ONLY, ClassSpace, label_text
from .compare import agree_mask
from .large_sample import LARGE_SAMPLE, classification_differences, regression_differences
from .latency import answered
from .quality import classification_metrics, regression_metrics
from .uncertainty import (
    cohens_kappa,
    difference_rows,
    mcnemar_exact,
    metric_differences,
    paired_difference_ci,
    unpaired_metric_differences,
)

ROLES = (CHAMPION, CHALLENGER)


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


def metric_difference_table(rows: pd.DataFrame, target: str, task: str, space: ClassSpace | None = None,
                            proba: dict | None = None) -> dict:
    """Every quality metric's difference with a paired 95% interval (and, for a regression,
    Wilcoxon's signed-rank test on the paired absolute errors). Up to `LARGE_SAMPLE` labelled
    requests, a bootstrap over requests; above, the O(n) methods of `large_sample` for a binary
    classifier's metrics and a Poisson bootstrap for the rest. `rows` carries `index`, the
    positions of its requests in the pairs the `proba` matrices (role -> n x classes, or None
    for a model answering labels only) are aligned with."""
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
    predicted = {role: rows[f"{role}_prediction"].astype(str) for role in ROLES}
    if space is None:  # two classes whose `{role}_score` is the positive class's probability (as `evidence` leaves it)
        space = ClassSpace.of(truth, list(predicted.values()), [])
        proba = {role: _two_columns(rows[f"{role}_score"].to_numpy(float)) for role in ROLES} if space.binary else None
        rows = rows.assign(index=np.arange(len(rows)))
    positions = rows["index"].to_numpy() if "index" in rows else np.arange(len(rows))
    given = proba or {}
    matrices = {role: None if given.get(role) is None else given[role][positions] for role in ROLES}
    base = {role: classification_metrics(truth, predicted[role], space, matrices[role]) for role in ROLES}
    positive = space.classes.index(space.positive) if space.binary and space.positive is not None else None
    boot = class_bootstrap(space.index(truth), space.index(predicted[CHAMPION]), space.index(predicted[CHALLENGER]),
                           len(space.classes), matrices[CHAMPION], matrices[CHALLENGER], positive,
                           n_boot=BOOTSTRAP_RESAMPLES)
    names = [name for name in METRIC_ORDER if name in boot]
    table = difference_rows({n: base[CHAMPION][n] for n in names}, {n: base[CHALLENGER][n] for n in names}, boot)
    method = {row["metric"]: "bootstrap over requests" for row in table}
    champion_matrix, challenger_matrix = matrices[CHAMPION], matrices[CHALLENGER]
    if large and positive is not None and champion_matrix is not None and challenger_matrix is not None:
        exact = {row["metric"]: row for row in classification_differences(
            truth == space.positive, predicted[CHAMPION] == space.positive, predicted[CHALLENGER] == space.positive,
            predicted[CHAMPION] == truth, predicted[CHALLENGER] == truth, champion_matrix[:, positive],
            challenger_matrix[:, positive])}
        table = [exact.get(row["metric"], row) for row in table]
        method.update({name: row["method"] for name, row in exact.items()})
    elif large:
        method = {name: "Poisson bootstrap over requests" for name in method}
    return {"differences": _with_method([{**row, "method": method.get(row["metric"], row.get("method"))}
                                         for row in table], _based_on(truth, predicted, space, matrices))}


def _two_columns(score: np.ndarray) -> np.ndarray | None:
    return None if np.isnan(score).all() else np.column_stack([1 - score, score])


METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "f1_macro", "precision_macro", "recall_macro", "f1_weighted",
                "precision_weighted", "recall_weighted", "roc_auc", "log_loss")


def _based_on(truth: pd.Series, predicted: dict[str, pd.Series], space: ClassSpace,
              matrices: dict[str, np.ndarray | None]) -> dict[str, str]:
    """What each classification metric is computed on, as counts a reader can weigh an interval by:
    precision on the requests each model called positive, recall on the truly positive ones; and
    why a figure that needs class probabilities is missing."""
    everything = f"{len(truth):,} labelled requests"
    out = {name: everything for name in METRIC_ORDER}
    if space.binary and space.positive is not None:
        positive = space.positive
        said = {role: int((p == positive).sum()) for role, p in predicted.items()}
        out["precision"] = f"{said[CHAMPION]:,} / {said[CHALLENGER]:,} called {positive}"
        out["recall"] = f"{int((truth == positive).sum()):,} truly {positive}"
    missing = [role for role, matrix in matrices.items() if matrix is None]
    if missing:
        for name in ("roc_auc", "log_loss"):
            out[name] = f"{LABELS_ONLY} ({' and '.join(missing)})"
    return out


def _with_method(rows: list[dict], based_on: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"method": "bootstrap over requests", **row,
                          **({"based on": based_on.get(row["metric"], "")} if based_on else {})} for row in rows])


def unpaired_difference_table(results: pd.DataFrame, labels: pd.DataFrame, target: str, task: str,
                              space: ClassSpace | None = None, proba: np.ndarray | None = None) -> dict:
    """Canary and A/B runs: every metric's challenger-minus-champion difference, each model on
    the labelled requests it answered itself, with a 95% interval that resamples each arm on
    its own (the two sets of requests are independent, not pairs)."""
    answered_rows = results[answered(results)]
    labelled = answered_rows.reset_index().merge(labels[["request_id", target]].dropna(), on="request_id")
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
        assert space is not None
        truth = {role: label_text(part[target]) for role, part in arms.items()}
        matrices = {role: None if proba is None else np.asarray(proba)[arms[role]["index"].to_numpy()]
                    for role in ROLES}

        def classifier(y, pred):
            matrix = None if pred.shape[1] == 1 else pred[:, 1:].astype(float)
            values = classification_metrics(y, pred[:, 0], space, matrix)
            return {k: v for k, v in values.items() if k != "labelled"}

        def predictions(role: str) -> np.ndarray:
            labels = arms[role]["prediction"].astype(str).to_numpy(object)[:, None]
            matrix = matrices[role]
            return labels if matrix is None else np.hstack([labels, matrix.astype(object)])

        rows = unpaired_metric_differences(truth[CHAMPION].to_numpy(str), predictions(CHAMPION),
                                           truth[CHALLENGER].to_numpy(str), predictions(CHALLENGER), classifier)
    return {"differences": pd.DataFrame([{"method": method, **row} for row in rows])}
