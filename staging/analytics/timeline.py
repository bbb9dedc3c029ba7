"""Agreement and quality per week of recorded traffic: concept drift shows as a falling line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..roles import CHALLENGER, CHAMPION
from .classes import label_text
from .compare import agree_mask, answered_by_both


def weekly_summary(pairs: pd.DataFrame, requests: pd.DataFrame, task: str, labels: pd.DataFrame | None = None,
                   target: str | None = None) -> pd.DataFrame:
    """week, requests, agreement, and per model accuracy (classification) or MAE (regression)."""
    both = answered_by_both(pairs).merge(requests[["request_id", "timestamp"]], on="request_id")
    both = both.dropna(subset=["timestamp"])
    if both.empty:
        return pd.DataFrame(columns=["week", "requests", "agreement"])
    both["week"] = both["timestamp"].dt.tz_localize(None).dt.to_period("W").dt.start_time
    both["agree"] = agree_mask(both, task)
    metric = "mae" if task == "regression" else "accuracy"
    if labels is not None and target in labels.columns:
        both = both.merge(labels[["request_id", target]], on="request_id", how="left")
        for role in (CHAMPION, CHALLENGER):
            if task == "regression":
                both[f"{role}_{metric}"] = (both[f"{role}_score"] - both[target]).abs()
            else:
                correct = both[f"{role}_prediction"].astype(str) == label_text(both[target])
                both[f"{role}_{metric}"] = np.where(both[target].notna(), correct, np.nan)
    grouped = both.groupby("week")
    out = pd.DataFrame({"requests": grouped.size(), "agreement": grouped["agree"].mean()})
    for role in (CHAMPION, CHALLENGER):
        column = f"{role}_{metric}"
        if column in both.columns:
            out[column] = grouped[column].mean()
    return out.reset_index()
