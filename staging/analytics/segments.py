"""Where the challenger does worse: agreement and quality by slice of the traffic.

Slices are each value of a categorical feature (the most common ones) and quantile bins of
each numeric one. Per slice: how often the two models agree, and each model's accuracy
(classification) or mean absolute error (regression) on the labelled requests, the
challenger's difference, and a paired test (McNemar's exact test; Wilcoxon's signed-rank
test for regressions). Many slices mean many tests, so the p-values are adjusted with
Benjamini-Hochberg before a slice is called worse. Sorted with the challenger's worst first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION
from .multiple_testing import benjamini_hochberg
from .uncertainty import mcnemar_exact

MAX_CATEGORIES = 8
QUANTILE_BINS = 4
MIN_SLICE = 30
ALPHA = 0.05


def slices(frame: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]):
    """(feature, slice label, boolean mask) for every slice worth testing."""
    for column in categorical:
        values = frame[column].fillna("(missing)").astype(str)
        for value in values.value_counts().index[:MAX_CATEGORIES]:
            yield column, f"{column} = {value}", (values == value).to_numpy()
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.nunique() < 2:
            continue
        bins = pd.qcut(values, QUANTILE_BINS, duplicates="drop")
        for interval in bins.cat.categories:
            label = f"{column} {_number(interval.left)}–{_number(interval.right)}"
            yield column, label, (bins == interval).to_numpy()


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def segment_table(frame: pd.DataFrame, target: str, task: str, numeric: tuple[str, ...],
                  categorical: tuple[str, ...]) -> pd.DataFrame:
    """`frame`: one row per labelled request both models answered, with features, the label
    in `target`, and `{role}_prediction` / `{role}_score` columns."""
    rows = []
    for feature, label, mask in slices(frame, numeric, categorical):
        part = frame[mask]
        if len(part) < MIN_SLICE:
            continue
        rows.append({"feature": feature, "slice": label, "requests": len(part), **_compare(part, target, task)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["q_value"] = benjamini_hochberg(table["p_value"])
    table["challenger_worse"] = (table["q_value"] < ALPHA) & (table["difference"] < 0)
    return table.sort_values("difference").reset_index(drop=True)


def _compare(part: pd.DataFrame, target: str, task: str) -> dict:
    if task == "regression":
        champion_err = (part[f"{CHAMPION}_score"] - part[target]).abs()
        challenger_err = (part[f"{CHALLENGER}_score"] - part[target]).abs()
        gaps = (champion_err - challenger_err).to_numpy()
        p = stats.wilcoxon(gaps).pvalue if np.any(gaps != 0) else 1.0
        return {"champion": champion_err.mean(), "challenger": challenger_err.mean(),
                "difference": float(np.mean(gaps)), "standard_error": float(np.std(gaps, ddof=1) / np.sqrt(gaps.size)),
                "p_value": float(p), "metric": "MAE"}
    truth = part[target].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    champion_ok = part[f"{CHAMPION}_prediction"].astype(str) == truth
    challenger_ok = part[f"{CHALLENGER}_prediction"].astype(str) == truth
    gaps = challenger_ok.to_numpy(float) - champion_ok.to_numpy(float)  # -1, 0 or +1 per request
    return {"champion": champion_ok.mean(), "challenger": challenger_ok.mean(),
            "difference": float(gaps.mean()), "standard_error": float(np.std(gaps) / np.sqrt(gaps.size)),
            "p_value": mcnemar_exact(champion_ok, challenger_ok), "metric": "accuracy"}


def worse_beyond_p(table: pd.DataFrame, margin: float) -> pd.Series:
    """The one-sided p-value, per slice, that the challenger is worse there by more than `margin`:
    a paired z-test of the slice's difference against -margin (1 where it has no spread)."""
    error = table["standard_error"].where(table["standard_error"] > 0)
    z = (table["difference"] + margin) / error
    return pd.Series(stats.norm.cdf(z), index=table.index).fillna(1.0)


def worse_beyond(table: pd.DataFrame, margin: float) -> pd.Series:
    """`worse_beyond_p` adjusted over the slices (Benjamini-Hochberg): what the gate's segments
    check fails on. On equally good models it almost never falls below 0.05; a slice harmed by
    several points shows."""
    return pd.Series(benjamini_hochberg(worse_beyond_p(table, margin)), index=table.index)


def worst_segment_sentence(table: pd.DataFrame) -> str:
    if table.empty:
        return "Too few labelled requests per slice to compare the models slice by slice."
    worse = table[table["challenger_worse"]]
    if worse.empty:
        return (f"No slice where the challenger is significantly worse ({len(table)} slices tested, "
                "Benjamini-Hochberg adjusted).")
    first = worse.iloc[0]
    unit = "points of accuracy" if first["metric"] == "accuracy" else "of mean absolute error"
    amount = abs(first["difference"]) * (100 if first["metric"] == "accuracy" else 1)
    others = f", and in {len(worse) - 1} more slice(s)" if len(worse) > 1 else ""
    return (f"The challenger is worse for {first['slice']}: {amount:.1f} {unit} "
            f"(q = {first['q_value']:.3g}, {int(first['requests'])} requests){others}.")
