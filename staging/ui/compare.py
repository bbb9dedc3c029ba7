"""The Compare page's conventions (which quality metrics a task shows, how the latency table's
numbers are written) and its section on the two versions as the registry describes them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..errors import StagingError
from ..runs import RunManifest
from ..sandbox import Sandbox
from .display import escaped

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


def versions_side_by_side(box: Sandbox, manifest: RunManifest) -> None:
    """Both versions as the registry and their training runs describe them (parameters, metrics,
    tags), the differences first: what changed between them, before asking why they answer apart."""
    st.subheader("The two versions")
    try:
        rows = box.versions_side_by_side(manifest)
    except StagingError as exc:
        st.caption(escaped(f"The registry's facts about these versions cannot be read: {exc.message}"))
        return
    differ = sum(row["differs"] == "yes" for row in rows if row["kind"] != "version")
    st.caption(escaped(f"From the registry and each version's training run: {differ} of "
                       f"{sum(row['kind'] != 'version' for row in rows)} parameters, metrics and tags differ."))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
