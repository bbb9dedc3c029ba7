"""Agreement and quality per week of recorded traffic: concept drift shows as a falling line, and
`weekly_story` says in one sentence when the difference between the models moved and held."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION
from .classes import label_text
from .compare import agree_mask, answered_by_both


def _labelled_by_week(pairs: pd.DataFrame, requests: pd.DataFrame, task: str, labels: pd.DataFrame | None,
                      target: str | None) -> pd.DataFrame:
    """Per labelled request answered by both: its week and the challenger's gain on it (classifiers:
    right minus right, in accuracy points; regressions: the champion's absolute error minus the
    challenger's, in the target's units). Positive: the challenger did better."""
    if labels is None or target not in labels.columns:
        return pd.DataFrame(columns=["week", "gain"])
    both = answered_by_both(pairs).merge(requests[["request_id", "timestamp"]], on="request_id")
    both = both.dropna(subset=["timestamp"]).merge(labels[["request_id", target]], on="request_id")
    both = both[both[target].notna()]
    if both.empty:
        return pd.DataFrame(columns=["week", "gain"])
    week = both["timestamp"].dt.tz_localize(None).dt.to_period("W").dt.start_time
    if task == "regression":
        gain = (both[f"{CHAMPION}_score"] - both[target]).abs() - (both[f"{CHALLENGER}_score"] - both[target]).abs()
    else:
        truth = label_text(both[target])
        gain = (both[f"{CHALLENGER}_prediction"].astype(str) == truth).astype(float) \
            - (both[f"{CHAMPION}_prediction"].astype(str) == truth).astype(float)
    return pd.DataFrame({"week": week.to_numpy(), "gain": gain.astype(float).to_numpy()}).dropna()


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """The mean and its t interval (the paired differences' own spread)."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def weekly_story(pairs: pd.DataFrame, requests: pd.DataFrame, task: str, labels: pd.DataFrame | None = None,
                 target: str | None = None, min_per_side: int = 30) -> str:
    """When the quality difference moved during the run and then held, in one sentence: "the
    challenger is better since the week of Oct 12 (week 3 of 5): +9.1 points (95% CI +6.0 to +12.2)
    on 1,200 labelled requests; before that: -4.0 points (CI ...)". The first week from which every
    week leans the same way and the pooled interval since then excludes zero, and the gain since
    then differs from the gain before it (Welch's t test, 5%). "" when nothing moved (or there are
    too few labels to say)."""
    rows = _labelled_by_week(pairs, requests, task, labels, target)
    weeks = sorted(rows["week"].unique())
    if len(weeks) < 2:
        return ""
    unit = "points" if task != "regression" else "in absolute error"
    scale = 100.0 if task != "regression" else 1.0
    means = rows.groupby("week")["gain"].mean()
    for k in range(1, len(weeks)):
        after, before = rows[rows["week"] >= weeks[k]]["gain"].to_numpy(), rows[rows["week"] < weeks[k]]["gain"].to_numpy()
        if len(after) < min_per_side or len(before) < min_per_side:
            continue
        mean, low, high = mean_interval(after)
        b_mean, b_low, b_high = mean_interval(before)
        later = means[means.index >= weeks[k]]
        moved = stats.ttest_ind(after, before, equal_var=False)  # Welch: did the gain change at week k?
        for sign, word in ((1, "better"), (-1, "worse")):
            holds = (sign * later > 0).all() and sign * (low if sign > 0 else high) > 0
            differed = sign * (mean - b_mean) > 0 and moved.pvalue < 0.05
            if holds and differed:
                return (f"The challenger is {word} since the week of {pd.Timestamp(weeks[k]):%b %d} (week {k + 1} of "
                        f"{len(weeks)}): {mean * scale:+.1f} {unit} (95% CI {low * scale:+.1f} to {high * scale:+.1f}) "
                        f"on {len(after):,} labelled requests; before that, {b_mean * scale:+.1f} {unit} (95% CI "
                        f"{b_low * scale:+.1f} to {b_high * scale:+.1f}) on {len(before):,}.")
    return ""


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
