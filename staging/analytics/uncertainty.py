"""How sure a number is: intervals and tests for the comparisons a reviewer signs on.

- `wilson_interval`: a proportion (an error rate, an agreement rate) with its 95% interval.
- `mcnemar_exact`: do the two models differ in how often they are right, on the same requests?
- `paired_difference_ci`: the challenger's accuracy minus the champion's, with a paired
  bootstrap interval. Each request's difference is -1, 0 or +1, so a bootstrap resample is
  one multinomial draw over three counts, not a resample of indices.
- `cohens_kappa`: agreement beyond what chance would give.
- `metric_differences`: every quality metric's challenger-minus-champion difference with a
  paired bootstrap interval (the same resampled requests for both models).
- `unpaired_metric_differences`: the same for canary and A/B runs, where each model answered
  its own requests: each arm resampled on its own.
- `newcombe_difference`: the difference of two independent proportions (error rates) with
  Newcombe's hybrid score interval, built from two Wilson intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def text(self, percent: bool = True) -> str:
        if np.isnan(self.estimate):
            return "—"
        if percent:
            return f"{self.estimate:+.1%} (95% CI {self.low:+.1%} to {self.high:+.1%})"
        return f"{self.estimate:.3f} (95% CI {self.low:.3f} to {self.high:.3f})"


def wilson_interval(successes: int, trials: int, z: float = Z95) -> Interval:
    if trials == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return Interval(p, float(centre - half), float(centre + half))


def mcnemar_exact(champion_correct, challenger_correct) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the requests where exactly one is right."""
    a = np.asarray(champion_correct, bool)
    b = np.asarray(challenger_correct, bool)
    only_champion, only_challenger = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_champion + only_challenger
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(min(only_champion, only_challenger), discordant, 0.5).pvalue)


def paired_difference_ci(champion_correct, challenger_correct, n_boot: int = 10_000, seed: int = 0) -> Interval:
    """Challenger accuracy minus champion accuracy, with a 95% paired bootstrap interval."""
    diff = np.asarray(challenger_correct, int) - np.asarray(champion_correct, int)
    n = diff.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    counts = np.array([np.sum(diff == -1), np.sum(diff == 0), np.sum(diff == 1)])
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_boot)
    resampled = (draws[:, 2] - draws[:, 0]) / n
    low, high = np.percentile(resampled, [2.5, 97.5])
    return Interval(float(diff.mean()), float(low), float(high))


def cohens_kappa(labels_a, labels_b) -> float:
    a = np.asarray(labels_a, dtype=str)
    b = np.asarray(labels_b, dtype=str)
    if a.size == 0:
        return float("nan")
    observed = float(np.mean(a == b))
    classes = np.union1d(a, b)
    expected = float(sum(np.mean(a == c) * np.mean(b == c) for c in classes))
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def metric_differences(y_true, champion, challenger, metrics, n_boot: int = 500, seed: int = 0) -> list[dict]:
    """`metrics(y_true, predictions) -> dict[name, value]`; `champion` and `challenger` are
    the models' predictions (any array-like, indexed alike). One row per metric: champion,
    challenger, difference, and the 2.5th/97.5th percentiles of the paired bootstrap."""
    y_true, champion, challenger = (np.asarray(a) for a in (y_true, champion, challenger))
    base_a, base_b = metrics(y_true, champion), metrics(y_true, challenger)
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {name: [] for name in base_a}
    for _ in range(n_boot if y_true.size else 0):
        index = rng.integers(0, y_true.size, y_true.size)
        a, b = metrics(y_true[index], champion[index]), metrics(y_true[index], challenger[index])
        for name in boot:
            boot[name].append(b[name] - a[name])
    return difference_rows(base_a, base_b, boot)


def difference_rows(base_a: dict, base_b: dict, boot: dict) -> list[dict]:
    """One row per metric: both values, the difference and the 2.5th/97.5th percentiles of its
    resampled differences (NaN resamples left out)."""
    rows = []
    for name in base_a:
        values = np.asarray(boot[name], float)
        values = values[~np.isnan(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if values.size else (np.nan, np.nan)
        rows.append({"metric": name, "champion": base_a[name], "challenger": base_b[name],
                     "difference": base_b[name] - base_a[name], "low": float(low), "high": float(high)})
    return rows


def newcombe_difference(successes_b: int, trials_b: int, successes_a: int, trials_a: int,
                        z: float = Z95) -> Interval:
    """p_b - p_a with Newcombe's (1998, method 10) hybrid score interval: the Wilson limits of
    each proportion combined in quadrature. Checked against statsmodels'
    `confint_proportions_2indep(method="newcomb")`."""
    if trials_a == 0 or trials_b == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    b, a = wilson_interval(successes_b, trials_b, z), wilson_interval(successes_a, trials_a, z)
    diff = b.estimate - a.estimate
    low = diff - np.sqrt((b.estimate - b.low) ** 2 + (a.high - a.estimate) ** 2)
    high = diff + np.sqrt((b.high - b.estimate) ** 2 + (a.estimate - a.low) ** 2)
    return Interval(float(diff), float(low), float(high))


def newcombe_paired_difference(both: int, only_b: int, only_a: int, trials: int, z: float = Z95) -> Interval:
    """p_b - p_a on the same `trials` (paired: `both` failed on both, `only_b` on b alone,
    `only_a` on a alone), with Newcombe's (1998, method 10) paired score interval: the Wilson
    limits of each proportion combined with the correlation of the pairs. Failures both
    models share do not widen it."""
    if trials == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    neither = trials - both - only_a - only_b
    b, a = wilson_interval(both + only_b, trials, z), wilson_interval(both + only_a, trials, z)
    product = float(both + only_b) * float(only_a + neither) * float(both + only_a) * float(only_b + neither)
    phi = (float(both) * neither - float(only_b) * only_a) / np.sqrt(product) if product > 0 else 0.0
    diff = b.estimate - a.estimate
    below = np.sqrt(max((b.estimate - b.low) ** 2 - 2 * phi * (b.estimate - b.low) * (a.high - a.estimate)
                        + (a.high - a.estimate) ** 2, 0.0))
    above = np.sqrt(max((b.high - b.estimate) ** 2 - 2 * phi * (b.high - b.estimate) * (a.estimate - a.low)
                        + (a.estimate - a.low) ** 2, 0.0))
    return Interval(float(diff), float(diff - below), float(diff + above))


def unpaired_metric_differences(truth_a, pred_a, truth_b, pred_b, metrics, n_boot: int = 500,
                                seed: int = 0) -> list[dict]:
    """Like `metric_differences`, for two models judged on different requests (canary, A/B):
    each arm is resampled on its own, so the interval is that of two independent samples."""
    truth_a, pred_a, truth_b, pred_b = (np.asarray(x) for x in (truth_a, pred_a, truth_b, pred_b))
    base_a, base_b = metrics(truth_a, pred_a), metrics(truth_b, pred_b)
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {name: [] for name in base_a}
    for _ in range(n_boot if truth_a.size and truth_b.size else 0):
        ia, ib = rng.integers(0, truth_a.size, truth_a.size), rng.integers(0, truth_b.size, truth_b.size)
        a, b = metrics(truth_a[ia], pred_a[ia]), metrics(truth_b[ib], pred_b[ib])
        for name in boot:
            boot[name].append(b[name] - a[name])
    return difference_rows(base_a, base_b, boot)
