"""Per-feature data drift, reference (training data) against current (replayed traffic).

`default_test` is Evidently's default chooser, written out:

    reference rows <= 1000:  numeric with > 5 unique values  -> Kolmogorov-Smirnov (p < 0.05)
                             numeric with 3-5, categorical > 2 -> chi-squared     (p < 0.05)
                             two values                       -> Z-test          (p < 0.05)
    reference rows  > 1000:  numeric with > 5 unique values  -> Wasserstein distance
                                                                normed by the reference
                                                                std              (>= 0.1)
                             otherwise                        -> Jensen-Shannon  (>= 0.1)

Unique values are counted over reference and current together; missing values are
dropped before testing. `evidently_drifted` is Evidently's verdict on exactly that rule.

`drifted`, the verdict the app shows, adds two guards that Evidently lacks:
- p-value tests (KS, chi-squared, Z) must survive a Benjamini-Hochberg correction over the
  table's p-value tests and show at least a small effect (KS statistic or normed Wasserstein
  distance >= 0.1, Cohen's w >= 0.1, Cohen's h >= 0.2): at 100k rows a p-value flags
  differences nobody cares about;
- a distance on few current rows (under 2,000) must also beat what random splits of the
  reference and current rows pooled show (a permutation test): its share of such splits at
  least as far is a p-value, corrected like the others. On 30 requests, every distance is large.
The dataset drifts when at least half of its columns drift. The statistics themselves live
in `drift_samples`, one sort per column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigurationError
from .drift_samples import (
    WASSERSTEIN_STD_FLOOR,
    CategoricalSample,
    NumericSample,
    ReferenceProfile,
    Sample,
    aligned_value_counts,
    chi_squared_pvalue,
    chi_squared_two_sample_pvalue,
    jensen_shannon,
    ks_statistic_pvalue,
    psi,
    sample_of,
    union_unique_count,
    wasserstein_normed,
    z_pvalue,
)
from .multiple_testing import benjamini_hochberg

DATASET_DRIFT_SHARE = 0.5
ALPHA = 0.05
NOISE_CHECK_ROWS = 2_000  # below this many current rows, a distance is checked against sampling noise
NOISE_SAMPLES = 500


@dataclass(frozen=True)
class DriftScore:
    test: str
    score: float
    threshold: float
    drifted: bool  # the test's own rule, as Evidently applies it
    kind: str  # "p_value" (drift when below), "distance" (drift when at or above) or "empty"
    effect: float = float("nan")  # p-value tests: KS statistic, Cohen's w or Cohen's h
    spread_effect: float = float("nan")  # KS: the normed Wasserstein distance too (a spread change shows there)
    noise: float = float("nan")  # distances on few rows: 95th percentile over same-size reference samples
    noise_p: float = float("nan")  # and the share of those samples at least as far as the current rows
    verdict_p: float = float("nan")  # p-value tests: the p-value the sandbox's verdict corrects (see verdicts)


NUMERIC, CATEGORICAL = "numeric", "categorical"


@dataclass(frozen=True)
class StatTest:
    """One drift test, as Evidently's `StatTest` describes one: its name, the column types it
    allows, how to read its score and its default threshold."""

    name: str
    display_name: str
    kind: str  # "p_value" (drift when below the threshold) or "distance" (drift when at or above)
    threshold: float
    compute: Callable[[Any, Any], tuple[float, float]]  # (reference, current) -> (score, effect size)
    column_types: frozenset[str] = frozenset({NUMERIC, CATEGORICAL})
    min_effect: float = 0.0

    def allows(self, numeric: bool) -> bool:
        return (NUMERIC if numeric else CATEGORICAL) in self.column_types


def _distance(func: Callable[[Any, Any], float]) -> Callable[[Any, Any], tuple[float, float]]:
    return lambda reference, current: (func(reference, current), float("nan"))


NUMERIC_ONLY = frozenset({NUMERIC})
STAT_TESTS: dict[str, StatTest] = {test.name: test for test in (
    StatTest("ks", "Kolmogorov-Smirnov", "p_value", 0.05, lambda r, c: ks_statistic_pvalue(r, c)[::-1],
             NUMERIC_ONLY, min_effect=0.1),
    StatTest("chisquare", "chi-squared", "p_value", 0.05, chi_squared_pvalue, min_effect=0.1),
    StatTest("z", "Z-test for proportions", "p_value", 0.05, z_pvalue, min_effect=0.2),
    StatTest("wasserstein", "Wasserstein distance (normed)", "distance", 0.1, _distance(wasserstein_normed),
             NUMERIC_ONLY),
    StatTest("jensenshannon", "Jensen-Shannon distance", "distance", 0.1, _distance(jensen_shannon)),
    StatTest("psi", "population stability index", "distance", 0.1, _distance(psi)),
)}


def stat_test(name: str) -> StatTest:
    """The test of this name, or a `ConfigurationError` that lists the names there are."""
    try:
        return STAT_TESTS[name]
    except KeyError:
        raise ConfigurationError(f"There is no drift test named {name!r}.",
                                 hint=f"Choose one of: {', '.join(STAT_TESTS)}.") from None


def default_test(reference: Sample, current: Sample, numeric: bool) -> str:
    """Evidently's default choice of test for one column (see the module docstring)."""
    n_values = union_unique_count(reference, current)
    if reference.size <= 1000:
        return small_sample_test(n_values, numeric)
    if numeric and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def small_sample_test(n_values: int, numeric: bool) -> str:
    """The p-value test Evidently uses on small data: KS, chi-squared, or a Z-test for two values."""
    if numeric and n_values > 5:
        return "ks"
    return "chisquare" if n_values > 2 else "z"


def run_test(name: str, reference: Sample, current: Sample, threshold: float | None = None,
             check_noise: bool = True) -> DriftScore:
    """One test on two prepared samples, with Evidently's rule, its effect size and, for a
    distance on few rows, the sampling noise it must beat."""
    spec = stat_test(name)
    threshold = spec.threshold if threshold is None else float(threshold)
    score, effect = spec.compute(reference, current)
    if spec.kind == "p_value":
        # Evidently's chi-squared compares the current counts with the reference shares as if those
        # were exact; the sandbox's verdict uses the two-sample test of homogeneity instead
        verdict_p = chi_squared_two_sample_pvalue(reference, current) if name == "chisquare" else score
        # the KS statistic is small for a change of spread that moves no quantile much; the normed
        # Wasserstein distance (Evidently's own measure on large data) sees it, so either may show
        # that a significant difference is large enough to matter
        spread_effect = float("nan")
        if name == "ks" and isinstance(reference, NumericSample) and isinstance(current, NumericSample):
            spread_effect = wasserstein_normed(reference, current)
        return DriftScore(name, score, threshold, bool(score < threshold), "p_value", effect=effect,
                          verdict_p=verdict_p, spread_effect=spread_effect)
    if not check_noise or current.size >= NOISE_CHECK_ROWS:
        return DriftScore(name, score, threshold, bool(score >= threshold), "distance")
    # the splits are drawn afresh for each data (seeded by the score, so the same data gives the same
    # answer): one fixed set of splits, reused on every run, would bias every run's p-value one way
    null = sampling_noise(spec, reference, current, seed=int(np.float64(score).view(np.uint64)))
    at_least = null >= score - 1e-9 * max(1.0, abs(score))  # a tie computed another way is still a tie
    return DriftScore(name, score, threshold, bool(score >= threshold), "distance",
                      noise=float(np.percentile(null, 95)), noise_p=float((1 + np.sum(at_least)) / (1 + null.size)))


def sampling_noise(spec: StatTest, reference: Sample, current: Sample, seed: int = 0) -> np.ndarray:
    """The distance between the two sides of `NOISE_SAMPLES` random splits of the reference and
    current rows pooled together, each split the same sizes as the run's: what no drift at all
    would show (a permutation test). Unlike samples drawn from the reference alone, a split can
    put a current value the reference never held (a new maximum of a skewed column, a category
    it never saw) on either side, so such values are weighed as chance makes them, not as drift.

    A split is one draw of counts over the pooled values (multivariate hypergeometric), so for
    Wasserstein, and for Jensen-Shannon with one bin per value, all splits' distances are
    computed at once from those counts."""
    rng = np.random.default_rng(seed)
    keys, ref_counts, cur_counts = aligned_value_counts(reference, current)
    pooled = (ref_counts + cur_counts).astype(np.int64)
    if isinstance(reference, NumericSample):
        order = np.argsort(keys.to_numpy(float), kind="stable")
        keys, pooled = keys[order], pooled[order]
    rows = current.size
    # "count" is fast while the pool fits in memory
    if pooled.sum() <= 10_000_000:
        drawn = rng.multivariate_hypergeometric(pooled, rows, size=NOISE_SAMPLES, method="count").astype(float)
    else:
        drawn = rng.multivariate_hypergeometric(pooled, rows, size=NOISE_SAMPLES, method="marginals").astype(float)
    left = pooled - drawn  # the reference's side of each split
    if spec.name == "wasserstein" and isinstance(reference, NumericSample):
        values = keys.to_numpy(float)
        size = left.sum(axis=1, keepdims=True)
        gaps = np.abs(np.cumsum(left, axis=1) / size - np.cumsum(drawn, axis=1) / rows)[:, :-1]
        mean = left @ values / size[:, 0]
        spread = np.sqrt(np.clip(left @ values**2 / size[:, 0] - mean**2, 0, None))
        return gaps @ np.diff(values) / np.maximum(spread, WASSERSTEIN_STD_FLOOR)
    one_bin_per_value = not isinstance(reference, NumericSample) or reference.n_unique <= 20
    if spec.name == "jensenshannon" and one_bin_per_value:
        ref_share = left / left.sum(axis=1, keepdims=True)
        cur_share = drawn / rows
        middle = (ref_share + cur_share) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            to_ref = np.where(ref_share > 0, ref_share * np.log(ref_share / middle), 0.0).sum(axis=1)
            to_cur = np.where(cur_share > 0, cur_share * np.log(cur_share / middle), 0.0).sum(axis=1)
        return np.sqrt(np.clip((to_ref + to_cur) / 2, 0, None))
    return np.array([spec.compute(*_split(reference, keys, side, draw))[0] for side, draw in zip(left, drawn)])


def _split(reference: Sample, keys: pd.Index, left: np.ndarray, drawn: np.ndarray) -> tuple[Sample, Sample]:
    """One split's two sides as samples (the slow path, for tests with no counts shortcut)."""
    if isinstance(reference, NumericSample):
        values = keys.to_numpy(float)
        return (NumericSample(np.repeat(values, left.astype(int)), reference.integer),
                NumericSample(np.repeat(values, drawn.astype(int)), reference.integer))
    return (CategoricalSample(pd.Series(left, index=keys)[left > 0]),
            CategoricalSample(pd.Series(drawn, index=keys)[drawn > 0]))


def column_drift(reference: pd.Series | Sample, current: pd.Series | Sample, numeric: bool,
                 test: str | None = None, threshold: float | None = None, check_noise: bool = True) -> DriftScore:
    """One column's drift: Evidently's default test unless `test` names one."""
    reference = reference if isinstance(reference, (NumericSample, CategoricalSample)) else sample_of(reference, numeric)
    current = current if isinstance(current, (NumericSample, CategoricalSample)) else sample_of(current, numeric)
    if not reference.size or not current.size:
        return DriftScore(test or "none", float("nan"), float("nan"), False, "empty")
    if test is not None and not stat_test(test).allows(numeric):
        kind = NUMERIC if numeric else CATEGORICAL
        allowed = [t.name for t in STAT_TESTS.values() if t.allows(numeric)]
        raise ConfigurationError(f"The {test} test does not apply to a {kind} column.",
                                 hint=f"Choose one of {', '.join(allowed)} for it, or leave it on the default.")
    name = test or default_test(reference, current, numeric)
    return run_test(name, reference, current, threshold, check_noise)


def _verdict_p(score: DriftScore) -> float:
    if score.kind == "p_value":
        return score.score if np.isnan(score.verdict_p) else score.verdict_p
    return score.noise_p if score.kind == "distance" else float("nan")


def verdicts(scores: list[DriftScore]) -> pd.DataFrame:
    """The app's verdict for each score (see the module docstring), with the reason in words.
    The p-values of every column (a test's own, or a distance's against sampling noise) are
    corrected together, as one family, so that identical data flags no column in about 95% of
    runs (bench/gate.py measures it)."""
    family = [_verdict_p(s) for s in scores]
    wasserstein_threshold = STAT_TESTS["wasserstein"].threshold  # Evidently's default for that distance
    tested = [p for p in family if not np.isnan(p)]
    corrected = iter(benjamini_hochberg(pd.Series(tested)) if tested else [])
    rows = []
    for s, p in zip(scores, family):
        q, why = (float(next(corrected)) if not np.isnan(p) else float("nan")), ""
        drifted = s.drifted
        if s.kind == "p_value":
            min_effect = STAT_TESTS[s.test].min_effect
            if s.drifted and q >= s.threshold:
                drifted, why = False, f"not significant once corrected for {len(tested)} tests (q = {q:.3g})"
            elif s.drifted and s.effect < min_effect and not s.spread_effect >= wasserstein_threshold:
                also = (f" and normed Wasserstein {s.spread_effect:.3f} < {wasserstein_threshold}"
                        if s.test == "ks" else "")
                drifted, why = False, f"significant but too small to matter (effect {s.effect:.3f} < {min_effect}{also})"
        elif s.kind == "distance" and not np.isnan(s.noise_p):
            if s.drifted and q >= ALPHA:
                drifted, why = False, (f"within sampling noise: 95% of random splits of the training data and "
                                       f"the traffic pooled show up to {s.noise:.3f}")
        rows.append({"drifted": bool(drifted), "q_value": q, "why": why})
    return pd.DataFrame(rows)


def feature_drift(reference: pd.DataFrame | ReferenceProfile, current: pd.DataFrame, numeric: tuple[str, ...],
                  categorical: tuple[str, ...],
                  choices: dict[str, tuple[str | None, float | None]] | None = None) -> pd.DataFrame:
    """One row per feature: test, score, threshold, Evidently's verdict and the app's (with the
    reason when they differ), effect size, PSI alongside, and the reference and current means
    (numeric) or most common values (categorical) to say what moved. `reference` is a frame or
    a profile prepared once; `choices` sets a column's test and/or threshold:
    {column: (test or None, threshold or None)}."""
    profile = reference if isinstance(reference, ReferenceProfile) else ReferenceProfile.of(reference, numeric,
                                                                                           categorical)
    rows, scores = [], []
    for column in (*numeric, *categorical):
        is_numeric = column in numeric
        test, threshold = (choices or {}).get(column, (None, None))
        ref, cur = profile.samples[column], sample_of(current[column], is_numeric)
        result = column_drift(ref, cur, is_numeric, test, threshold)
        scores.append(result)
        psi_score = column_drift(ref, cur, is_numeric, "psi", check_noise=False).score
        rows.append({"feature": column, "type": "numeric" if is_numeric else "categorical",
                     "test": result.test, "score": result.score, "threshold": result.threshold,
                     "evidently_drifted": result.drifted, "effect": result.effect, "noise": result.noise,
                     "psi": psi_score, "reference": _typical(ref), "current": _typical(cur)})
    if not rows:
        return pd.DataFrame(columns=["feature", "test", "score", "threshold", "drifted", "evidently_drifted"])
    table = pd.DataFrame(rows)
    return pd.concat([table, verdicts(scores)], axis=1)


def drift_over_time(reference: pd.DataFrame | ReferenceProfile, current: pd.DataFrame, numeric: tuple[str, ...],
                    categorical: tuple[str, ...], min_rows: int = 100) -> pd.DataFrame:
    """feature × window drift: daily windows when each day has `min_rows` requests on
    average, else weekly. A window holds few rows, where distances are noisy, so each cell
    uses the small-data p-value test (KS, chi-squared, Z). A cell drifts when its
    Benjamini-Hochberg adjusted p-value, over the whole grid, is below 0.05 and its effect
    is at least small (the same guards as `verdicts`: on big windows every p-value is tiny).
    Columns: window, feature, test, score (p-value), effect, q_value, strength, drifted, rows."""
    times = current["timestamp"].dropna()
    if times.empty:
        return pd.DataFrame(columns=["window", "feature", "test", "score", "threshold", "drifted", "rows"])
    profile = reference if isinstance(reference, ReferenceProfile) else ReferenceProfile.of(reference, numeric,
                                                                                           categorical)
    days = max(1, times.dt.normalize().nunique())
    freq = "D" if len(times) / days >= min_rows else "W"
    windows = current["timestamp"].dt.tz_localize(None).dt.to_period(freq).dt.start_time
    rows, scores = [], []
    for window, part in current.groupby(windows):
        for column in (*numeric, *categorical):
            is_numeric = column in numeric
            ref, cur = profile.samples[column], sample_of(part[column], is_numeric)
            test = small_sample_test(union_unique_count(ref, cur), is_numeric)
            result = column_drift(ref, cur, is_numeric, test)
            scores.append(result if result.kind == "p_value" else DriftScore(test, 1.0, ALPHA, False, "p_value"))
            rows.append({"window": window, "feature": column, "test": result.test, "score": result.score,
                         "effect": result.effect, "rows": len(part)})
    grid = pd.concat([pd.DataFrame(rows), verdicts(scores)[["drifted", "q_value"]]], axis=1)
    grid["strength"] = [drift_strength(t, q, ALPHA) for t, q in zip(grid["test"], grid["q_value"])]
    return grid


P_VALUE_TESTS = {name for name, spec in STAT_TESTS.items() if spec.kind == "p_value"}


def drift_strength(test: str, score: float, threshold: float, cap: float = 5.0) -> float:
    """One scale for every test: 1 is the threshold, above 1 is drift (capped for colour)."""
    if np.isnan(score):
        return float("nan")
    value = threshold / max(score, 1e-12) if test in P_VALUE_TESTS else score / threshold
    return float(min(value, cap))


def _typical(sample: Sample) -> str:
    """The mean of a numeric sample, or the most common value of a categorical one and its share."""
    if not sample.size:
        return "—"
    if isinstance(sample, NumericSample):
        return f"mean {sample.values.mean():,.3g}"
    top = sample.counts.idxmax()
    return f"{top} ({sample.counts[top] / sample.size:.0%})"


def dataset_drift(table: pd.DataFrame, share: float = DATASET_DRIFT_SHARE) -> bool:
    return bool(len(table)) and float(table["drifted"].mean()) >= share


def prediction_drift(reference_scores: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Each model's output distribution on the training reference against the replayed traffic:
    its score (the positive-class probability, or the predicted value) where it has one, else
    the classes it answered (several classes, or labels only)."""
    rows, scores = [], []
    answered = results[results["status"].eq(200)]
    for role, ref in reference_scores.groupby("target"):
        current = answered[answered["target"] == role]
        numeric = bool(ref["score"].notna().any() and current["score"].notna().any())
        column = "score" if numeric else "prediction"
        before = ref[column].astype(float) if numeric else ref[column].astype(str)
        after = current[column].astype(float) if numeric else current[column].dropna().astype(str)
        result = column_drift(before, after, numeric=numeric)
        scores.append(result)
        rows.append({"model": role, "on": "scores" if numeric else "answered classes", "test": result.test,
                     "score": result.score, "threshold": result.threshold, "evidently_drifted": result.drifted,
                     "reference_mean": float(before.mean()) if numeric else float("nan"),
                     "current_mean": float(after.mean()) if numeric and len(after) else float("nan")})
    if not rows:
        return pd.DataFrame(columns=["model", "test", "score", "threshold", "drifted"])
    return pd.concat([pd.DataFrame(rows), verdicts(scores)], axis=1)


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
        return f"No feature looks different from the training data ({len(table)} checked)."
    verdict = "has drifted" if dataset_drift(table) else "has not drifted"
    return (f"{len(drifted)} of {len(table)} features look different from the training data "
            f"({', '.join(drifted)}). The traffic as a whole {verdict} (the rule: at least half of the features).")
