"""Per-feature data drift, reference (training data) against current (replayed traffic).

One small pure function per statistic, each returning a `DriftScore`; an explicit
registry `STAT_TESTS`; and `default_test`, Evidently's default chooser written out:

    reference rows <= 1000:  numeric with > 5 unique values  -> Kolmogorov-Smirnov (p < 0.05)
                             numeric with 3-5, categorical > 2 -> chi-squared     (p < 0.05)
                             two values                       -> Z-test          (p < 0.05)
    reference rows  > 1000:  numeric with > 5 unique values  -> Wasserstein distance
                                                                normed by the reference
                                                                std              (>= 0.1)
                             otherwise                        -> Jensen-Shannon  (>= 0.1)

Unique values are counted over reference and current together; missing values are
dropped before testing. The dataset drifts when at least half of its columns drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from .segments import benjamini_hochberg

DATASET_DRIFT_SHARE = 0.5
ALPHA = 0.05


@dataclass(frozen=True)
class DriftScore:
    test: str
    score: float
    threshold: float
    drifted: bool
    kind: str  # "p_value" (drift when below) or "distance" (drift when at or above)


def _p_value(test: str, p: float, threshold: float) -> DriftScore:
    return DriftScore(test, float(p), threshold, bool(p < threshold), "p_value")


def _distance(test: str, d: float, threshold: float) -> DriftScore:
    return DriftScore(test, float(d), threshold, bool(d >= threshold), "distance")


def ks_test(reference: pd.Series, current: pd.Series, threshold: float = 0.05) -> DriftScore:
    return _p_value("ks", stats.ks_2samp(reference, current).pvalue, threshold)


def chi_squared_test(reference: pd.Series, current: pd.Series, threshold: float = 0.05) -> DriftScore:
    keys = list(set(reference.unique()) | set(current.unique()))
    ref_counts = reference.value_counts().reindex(keys, fill_value=0).to_numpy(float)
    cur_counts = current.value_counts().reindex(keys, fill_value=0).to_numpy(float)
    expected = ref_counts * (len(current) / len(reference))
    return _p_value("chisquare", stats.chisquare(cur_counts, expected).pvalue, threshold)


def z_test(reference: pd.Series, current: pd.Series, threshold: float = 0.05) -> DriftScore:
    """Two-proportion Z-test on the share of the first (sorted) value."""
    keys = sorted(set(reference.unique()) | set(current.unique()), key=str)
    if len(keys) <= 1:
        return _p_value("z", 1.0, threshold)
    p1 = float((reference != keys[0]).mean())
    p2 = float((current != keys[0]).mean())
    n1, n2 = len(reference), len(current)
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _p_value("z", 2 * stats.norm.sf(abs(z)), threshold)


def wasserstein_test(reference: pd.Series, current: pd.Series, threshold: float = 0.1) -> DriftScore:
    norm = max(float(np.std(reference.to_numpy(float))), 0.001)
    return _distance("wasserstein", stats.wasserstein_distance(reference, current) / norm, threshold)


def binned_shares(reference: pd.Series, current: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Share of rows per bin: Sturges histogram bins for numeric columns with > 20 reference
    values, otherwise one bin per value."""
    if numeric and reference.nunique() > 20:
        edges = np.histogram_bin_edges(np.concatenate([reference.to_numpy(float), current.to_numpy(float)]),
                                       bins="sturges")
        return (np.histogram(reference, edges)[0] / len(reference),
                np.histogram(current, edges)[0] / len(current))
    keys = list(set(reference.unique()) | set(current.unique()))
    return (reference.value_counts().reindex(keys, fill_value=0).to_numpy(float) / len(reference),
            current.value_counts().reindex(keys, fill_value=0).to_numpy(float) / len(current))


def jensen_shannon_test(reference: pd.Series, current: pd.Series, threshold: float = 0.1,
                        numeric: bool = False) -> DriftScore:
    ref_share, cur_share = binned_shares(reference, current, numeric)
    return _distance("jensenshannon", distance.jensenshannon(ref_share, cur_share, base=2), threshold)


def psi_test(reference: pd.Series, current: pd.Series, threshold: float = 0.1, numeric: bool = False) -> DriftScore:
    """Population stability index over the same bins as Jensen-Shannon; empty bins get a
    tiny share (as Evidently does) so the logarithm stays finite."""
    ref_share, cur_share = (_fill_zeroes(s) for s in binned_shares(reference, current, numeric))
    return _distance("psi", float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share))), threshold)


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    shares = shares.astype(float).copy()
    smallest = shares[shares > 0].min() if (shares > 0).any() else 1.0
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


STAT_TESTS: dict[str, Callable[..., DriftScore]] = {
    "ks": ks_test,
    "chisquare": chi_squared_test,
    "z": z_test,
    "wasserstein": wasserstein_test,
    "jensenshannon": jensen_shannon_test,
    "psi": psi_test,
}


def default_test(reference: pd.Series, current: pd.Series, numeric: bool) -> str:
    """Evidently's default choice of test for one column (see the module docstring)."""
    n_values = pd.concat([reference, current]).nunique()
    if len(reference) <= 1000:
        return small_sample_test(n_values, numeric)
    if numeric and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def small_sample_test(n_values: int, numeric: bool) -> str:
    """The p-value test Evidently uses on small data: KS, chi-squared, or a Z-test for two values."""
    if numeric and n_values > 5:
        return "ks"
    return "chisquare" if n_values > 2 else "z"


def column_drift(reference: pd.Series, current: pd.Series, numeric: bool,
                 test: str | None = None, threshold: float | None = None) -> DriftScore:
    reference = reference.replace([np.inf, -np.inf], np.nan).dropna()
    current = current.replace([np.inf, -np.inf], np.nan).dropna()
    if reference.empty or current.empty:
        return DriftScore(test or "none", float("nan"), float("nan"), False, "empty")
    name = test or default_test(reference, current, numeric)
    func = STAT_TESTS[name]
    kwargs = {} if threshold is None else {"threshold": threshold}
    if name in ("jensenshannon", "psi"):
        kwargs["numeric"] = numeric
    if numeric:
        reference, current = reference.astype(float), current.astype(float)
    return func(reference, current, **kwargs)


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, numeric: tuple[str, ...],
                  categorical: tuple[str, ...],
                  choices: dict[str, tuple[str | None, float | None]] | None = None) -> pd.DataFrame:
    """One row per feature: test, score, threshold, drifted, PSI alongside; plus the reference
    and current means (numeric) or most common values (categorical) to say what moved.
    `choices` sets a column's test and/or threshold: {column: (test or None, threshold or None)}."""
    rows = []
    for column in (*numeric, *categorical):
        is_numeric = column in numeric
        test, threshold = (choices or {}).get(column, (None, None))
        result = column_drift(reference[column], current[column], is_numeric, test, threshold)
        psi = column_drift(reference[column], current[column], is_numeric, "psi")
        rows.append({"feature": column, "type": "numeric" if is_numeric else "categorical",
                     "test": result.test, "score": result.score, "threshold": result.threshold,
                     "drifted": result.drifted, "psi": psi.score,
                     "reference": _typical(reference[column], is_numeric),
                     "current": _typical(current[column], is_numeric)})
    return pd.DataFrame(rows)


def drift_over_time(reference: pd.DataFrame, current: pd.DataFrame, numeric: tuple[str, ...],
                    categorical: tuple[str, ...], min_rows: int = 100) -> pd.DataFrame:
    """feature × window drift: daily windows when each day has `min_rows` requests on
    average, else weekly. A window holds few rows, where distances are noisy, so each cell
    uses the small-data p-value test (KS, chi-squared, Z) and a cell drifts when its
    Benjamini-Hochberg adjusted p-value, over the whole grid, is below 0.05.
    Columns: window, feature, test, score (p-value), q_value, strength, drifted, rows."""
    times = current["timestamp"].dropna()
    if times.empty:
        return pd.DataFrame(columns=["window", "feature", "test", "score", "threshold", "drifted", "rows"])
    days = max(1, times.dt.normalize().nunique())
    freq = "D" if len(times) / days >= min_rows else "W"
    windows = current["timestamp"].dt.tz_localize(None).dt.to_period(freq).dt.start_time
    rows = []
    for window, part in current.groupby(windows):
        for column in (*numeric, *categorical):
            is_numeric = column in numeric
            n_values = pd.concat([reference[column], part[column]]).nunique()
            result = column_drift(reference[column], part[column], is_numeric, small_sample_test(n_values, is_numeric))
            rows.append({"window": window, "feature": column, "test": result.test, "score": result.score,
                         "rows": len(part)})
    grid = pd.DataFrame(rows)
    grid["q_value"] = benjamini_hochberg(grid["score"].fillna(1.0))
    grid["drifted"] = grid["q_value"] < ALPHA
    grid["strength"] = [drift_strength(t, q, ALPHA) for t, q in zip(grid["test"], grid["q_value"])]
    return grid


P_VALUE_TESTS = {"ks", "chisquare", "z"}


def drift_strength(test: str, score: float, threshold: float, cap: float = 5.0) -> float:
    """One scale for every test: 1 is the threshold, above 1 is drift (capped for colour)."""
    if np.isnan(score):
        return float("nan")
    value = threshold / max(score, 1e-12) if test in P_VALUE_TESTS else score / threshold
    return float(min(value, cap))


def _typical(values: pd.Series, numeric: bool) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if numeric:
        return f"mean {values.astype(float).mean():,.3g}"
    top = values.value_counts(normalize=True)
    return f"{top.index[0]} ({top.iloc[0]:.0%})"


def dataset_drift(table: pd.DataFrame, share: float = DATASET_DRIFT_SHARE) -> bool:
    return bool(len(table)) and float(table["drifted"].mean()) >= share


def prediction_drift(reference_scores: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Each model's output distribution (its score: the positive-class probability or the
    predicted value) on the training reference against the replayed traffic."""
    rows = []
    answered = results[results["status"].eq(200)]
    for role, ref in reference_scores.groupby("target"):
        current = answered.loc[answered["target"] == role, "score"].astype(float)
        result = column_drift(ref["score"].astype(float), current, numeric=True)
        rows.append({"model": role, "test": result.test, "score": result.score, "threshold": result.threshold,
                     "drifted": result.drifted, "reference_mean": float(ref["score"].mean()),
                     "current_mean": float(current.mean()) if len(current) else float("nan")})
    return pd.DataFrame(rows)


def score_histograms(reference_scores: pd.DataFrame, results: pd.DataFrame, bins: int = 30) -> pd.DataFrame:
    """Share of answers per score bin: model, source (reference or replayed), bin_start, share."""
    answered = results[results["status"].eq(200)].dropna(subset=["score"])
    values = pd.concat([reference_scores["score"], answered["score"]]).astype(float)
    edges = np.histogram_bin_edges(values.dropna(), bins=bins)
    frames = []
    for source, frame in (("training reference", reference_scores), ("replayed traffic", answered)):
        for role, part in frame.groupby("target"):
            counts, _ = np.histogram(part["score"].astype(float).dropna(), edges)
            frames.append(pd.DataFrame({"model": role, "source": source, "bin_start": edges[:-1],
                                        "bin_end": edges[1:], "share": counts / max(counts.sum(), 1)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def drift_sentence(table: pd.DataFrame) -> str:
    """The drift table in one plain sentence."""
    drifted = table.loc[table["drifted"], "feature"].tolist()
    if not drifted:
        return f"None of the {len(table)} features looks different from the training data."
    verdict = "has drifted" if dataset_drift(table) else "has not drifted"
    return (f"{len(drifted)} of {len(table)} features look different from the training data "
            f"({', '.join(drifted)}). The traffic as a whole {verdict} (the rule: at least half of the features).")
