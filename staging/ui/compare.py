"""The Compare page's conventions: which quality metrics a task shows, and how the latency
table's numbers are written."""

from __future__ import annotations

QUALITY_METRICS = {"regression": ["mae", "rmse", "r2"],
                   "binary": ["accuracy", "precision", "recall", "f1", "f1_macro", "roc_auc", "log_loss"],
                   "multiclass": ["accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                                  "recall_weighted", "f1_weighted", "roc_auc", "log_loss"]}
LATENCY_FORMAT = {"error_rate": "{:.2%}", "error_rate_low": "{:.2%}", "error_rate_high": "{:.2%}",
                  "p50_ms": "{:.1f}", "p90_ms": "{:.1f}", "p95_ms": "{:.1f}", "p99_ms": "{:.1f}", "max_ms": "{:.1f}"}


def quality_metrics(task: str, classes: int = 2) -> list[str]:
    if task == "regression":
        return QUALITY_METRICS["regression"]
    return QUALITY_METRICS["binary" if classes <= 2 else "multiclass"]


def metric_names_sentence(task: str, classes: tuple[str, ...], positive: str | None) -> str:
    """What each metric's name means on this run."""
    if task == "regression":
        return "MAE and RMSE in the outcome's own unit (lower is better); R² is the share of its variance explained."
    text = ("_macro: the unweighted mean over the classes; _weighted: weighted by how many requests each class "
            "holds. ")
    if len(classes) == 2 and positive is not None:
        text = f"precision, recall and f1: of the positive class, {positive}. " + text
    else:
        text += "ROC AUC: each class against the rest, averaged. "
    return text + "ROC AUC and log loss come only from the models' class probabilities."
