"""One column's sample, prepared once, and every drift statistic computed from it.

A numeric column is sorted once (missing values and infinities dropped). That one sort
serves the Kolmogorov-Smirnov statistic, the Wasserstein distance, the Sturges histogram
behind Jensen-Shannon and PSI, and the unique-value count that picks the default test.
A categorical column is reduced to its value counts once.

A reference (training) column is prepared once per reference file and reused for every run
(`reference_profile`, cached by path and modification time; it reads one column at a time,
so the whole reference table never needs to sit in memory).

Each statistic equals scipy's on the same data, and so Evidently's, which calls scipy;
tests/test_drift_samples.py checks that number by number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from ..tables import read_parquet_lean

KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp(mode="auto") computes exact p-values up to this size
WASSERSTEIN_STD_FLOOR = 0.001


class NumericSample:
    """A numeric column's finite values, sorted once."""

    def __init__(self, values: np.ndarray, integer: bool = False):
        self.values = values
        self.integer = integer  # Evidently bins integer columns with a bin width of at least 1

    @classmethod
    def of(cls, series: pd.Series) -> NumericSample:
        integer = pd.api.types.is_integer_dtype(series.dtype)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values = np.sort(values[np.isfinite(values)])
        return cls(values, integer)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @cached_property
    def std(self) -> float:
        return float(np.std(self.values))

    @cached_property
    def n_unique(self) -> int:
        return int(np.count_nonzero(self.values[1:] != self.values[:-1])) + 1 if self.size else 0

    def few_unique_values(self, limit: int) -> set:
        """The distinct values when there are at most `limit` of them (a profile must not keep a
        second copy of a continuous column)."""
        return set(self.value_counts().index.tolist()) if self.n_unique <= limit else set()

    def value_counts(self) -> pd.Series:
        starts = (np.flatnonzero(np.concatenate([[True], self.values[1:] != self.values[:-1]])) if self.size
                  else np.array([], dtype=int))
        counts = np.diff(np.append(starts, self.size))
        return pd.Series(counts, index=self.values[starts] if self.size else [], dtype=float)


class CategoricalSample:
    """A categorical column's value counts (missing values dropped)."""

    def __init__(self, counts: pd.Series):
        self.counts = counts

    @classmethod
    def of(cls, series: pd.Series) -> CategoricalSample:
        return cls(series.value_counts(dropna=True))

    @property
    def size(self) -> int:
        return int(self.counts.sum())

    @property
    def n_unique(self) -> int:
        return len(self.counts)

    def few_unique_values(self, limit: int) -> set:
        return set(self.counts.index.tolist()) if self.n_unique <= limit else set()

    def value_counts(self) -> pd.Series:
        return self.counts.astype(float)


Sample = NumericSample | CategoricalSample


def sample_of(series: pd.Series, numeric: bool) -> Sample:
    return NumericSample.of(series) if numeric else CategoricalSample.of(series)


def union_unique_count(reference: Sample, current: Sample, enough: int = 6) -> int:
    """Distinct values over both samples; exact up to `enough`, which is all the test choice needs."""
    if reference.n_unique >= enough or current.n_unique >= enough:
        return max(reference.n_unique, current.n_unique)
    return len(reference.few_unique_values(enough) | current.few_unique_values(enough))


def aligned_counts(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Counts per value over the union of both samples' values, in one order."""
    return aligned_value_counts(reference, current)[1:]


def aligned_value_counts(reference: Sample, current: Sample) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The union of both samples' values and each sample's counts over it, in one order."""
    ref, cur = reference.value_counts(), current.value_counts()
    keys = ref.index.union(cur.index, sort=False) if len(cur) else ref.index
    return keys, ref.reindex(keys, fill_value=0).to_numpy(float), cur.reindex(keys, fill_value=0).to_numpy(float)


def cdf_gaps(reference: NumericSample, current: NumericSample) -> tuple[np.ndarray, np.ndarray]:
    """Both samples merged in order (no second sort: each is sorted already), and at each merged
    value the reference's empirical CDF minus the current's, counting every tie (like scipy's
    searchsorted(..., side="right"))."""
    r, c = reference.values, current.values
    positions = np.searchsorted(r, c, side="right")
    positions += np.arange(c.size)
    from_reference = np.ones(r.size + c.size, dtype=bool)
    from_reference[positions] = False
    merged = np.empty(r.size + c.size)
    merged[positions] = c
    merged[from_reference] = r
    del positions
    gaps = np.cumsum(from_reference, dtype=float)  # reference rows seen so far
    current_seen = np.arange(1, merged.size + 1, dtype=float)
    current_seen -= gaps
    gaps /= r.size
    current_seen /= c.size
    gaps -= current_seen  # in place throughout: a million-row column costs a few arrays, not a dozen
    return merged, gaps


def ks_statistic_pvalue(reference: NumericSample, current: NumericSample) -> tuple[float, float]:
    """Two-sided two-sample KS: scipy's own call for small samples (exact p-values), else the
    statistic from the merged CDFs and Smirnov's asymptotic p-value, as scipy computes it."""
    n1, n2 = reference.size, current.size
    if max(n1, n2) <= KS_EXACT_MAX_N:
        result = stats.ks_2samp(reference.values, current.values)
        return float(result.statistic), float(result.pvalue)
    merged, gaps = cdf_gaps(reference, current)
    last_of_tie = np.append(merged[1:] != merged[:-1], True)
    gaps = gaps[last_of_tie]
    d = float(max(gaps.max(), np.clip(-gaps.min(), 0, 1)))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.distributions.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return d, p


def wasserstein_normed(reference: NumericSample, current: NumericSample) -> float:
    """First Wasserstein distance over the reference's standard deviation (floored at 0.001)."""
    merged, gaps = cdf_gaps(reference, current)
    steps = np.diff(merged)
    del merged
    distance_value = float(np.dot(np.abs(gaps[:-1], out=gaps[:-1]), steps))
    return distance_value / max(reference.std, WASSERSTEIN_STD_FLOOR)


def sturges_edges(reference: NumericSample, current: NumericSample) -> np.ndarray:
    """numpy's histogram_bin_edges(reference + current, bins="sturges"), from the two sorted ends."""
    low = min(reference.values[0], current.values[0]) if current.size else reference.values[0]
    high = max(reference.values[-1], current.values[-1]) if current.size else reference.values[-1]
    first, last = (low - 0.5, high + 0.5) if low == high else (low, high)
    width = (high - low) / (np.log2(reference.size + current.size) + 1.0)
    if reference.integer and current.integer and width < 1:
        width = 1
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True)


def histogram_counts(sample: NumericSample, edges: np.ndarray) -> np.ndarray:
    """np.histogram(values, edges)[0] for sorted values: [a, b) bins, the last one closed."""
    starts = np.searchsorted(sample.values, edges[:-1], side="left")
    ends = np.append(starts[1:], np.searchsorted(sample.values, edges[-1], side="right"))
    return (ends - starts).astype(float)


def binned_shares(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Share of rows per bin, as Evidently bins for Jensen-Shannon and PSI: Sturges histogram
    bins for numeric columns with more than 20 distinct reference values, else one per value."""
    if isinstance(reference, NumericSample) and isinstance(current, NumericSample) and reference.n_unique > 20:
        edges = sturges_edges(reference, current)
        return histogram_counts(reference, edges) / reference.size, histogram_counts(current, edges) / current.size
    ref_counts, cur_counts = aligned_counts(reference, current)
    return ref_counts / reference.size, cur_counts / current.size


def fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's fill for empty bins, so that PSI's logarithm stays finite."""
    shares = shares.astype(float).copy()
    smallest = shares[shares > 0].min() if (shares > 0).any() else 1.0
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


def jensen_shannon(reference: Sample, current: Sample) -> float:
    """Jensen-Shannon distance with the natural logarithm (scipy's and Evidently's default)."""
    ref_share, cur_share = binned_shares(reference, current)
    return float(distance.jensenshannon(ref_share, cur_share))


def psi(reference: Sample, current: Sample) -> float:
    ref_share, cur_share = (fill_zeroes(s) for s in binned_shares(reference, current))
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def chi_squared_pvalue(reference: Sample, current: Sample) -> tuple[float, float]:
    """Goodness of fit of the current counts to the reference shares; also Cohen's w, the
    effect size (the root of the mean squared relative share difference)."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    expected = ref_counts * (current.size / reference.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        unseen = bool(np.any((expected == 0) & (cur_counts > 0)))  # a value training never saw: scipy refuses
        p = 0.0 if unseen else float(stats.chisquare(cur_counts, expected).pvalue)
        ref_share, cur_share = ref_counts / reference.size, cur_counts / current.size
        w = float(np.sqrt(np.sum(np.where(ref_share > 0, (cur_share - ref_share) ** 2 / ref_share, np.inf))))
    return p, w


def chi_squared_two_sample_pvalue(reference: Sample, current: Sample) -> float:
    """Do the two samples come from one distribution? Pearson's chi-squared test of homogeneity on
    the 2 x k table of counts (scipy's `chi2_contingency`). Unlike the goodness-of-fit test
    above, it knows the reference shares are themselves estimated from a sample, so on
    many-valued columns it does not cry wolf."""
    ref_counts, cur_counts = aligned_counts(reference, current)
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or not reference.size or not current.size:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def z_pvalue(reference: Sample, current: Sample) -> tuple[float, float]:
    """Two-proportion Z-test on the share of the first value (sorted); also Cohen's h."""
    ref_counts, cur_counts = reference.value_counts(), current.value_counts()
    keys = sorted(set(ref_counts.index) | set(cur_counts.index), key=str)
    if len(keys) <= 1:
        return 1.0, 0.0
    n1, n2 = reference.size, current.size
    p1 = 1 - ref_counts.get(keys[0], 0) / n1
    p2 = 1 - cur_counts.get(keys[0], 0) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    h = abs(2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2)))
    return float(2 * stats.norm.sf(abs(z))), float(h)


@dataclass(frozen=True)
class ReferenceProfile:
    """Every reference column prepared once: its rows, kind and sample."""

    samples: dict[str, Sample]

    @classmethod
    def of(cls, frame: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> ReferenceProfile:
        return cls({c: sample_of(frame[c], c in numeric) for c in (*numeric, *categorical)})


@lru_cache(maxsize=4)
def _profile_from_file(path: str, mtime: float, numeric: tuple[str, ...],
                       categorical: tuple[str, ...]) -> ReferenceProfile:
    samples = {}
    for column in (*numeric, *categorical):
        series = (read_parquet_lean(path, [column]) if path.endswith(".parquet")
                  else pd.read_csv(path, usecols=[column]))[column]
        samples[column] = sample_of(series, column in numeric)
    return ReferenceProfile(samples)


def reference_profile(path: str | Path, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> ReferenceProfile:
    """A reference file's profile, computed once and kept while the file does not change."""
    path = Path(path)
    return _profile_from_file(str(path), path.stat().st_mtime, tuple(numeric), tuple(categorical))
