"""Intervals and tests against statsmodels and scikit-learn, plus simulations of their promises."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from staging.analytics import uncertainty as u


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (50, 100), (999, 1000), (7, 7)])
def test_wilson_matches_statsmodels(k, n):
    low, high = proportion_confint(k, n, method="wilson")
    got = u.wilson_interval(k, n)
    assert (got.low, got.high) == pytest.approx((low, high))
    assert np.isnan(u.wilson_interval(0, 0).estimate)


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(1)
    a, b = rng.random(300) < 0.7, rng.random(300) < 0.75
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    assert u.mcnemar_exact(a, b) == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert u.mcnemar_exact([True, False], [True, False]) == 1.0


def test_kappa_matches_sklearn():
    rng = np.random.default_rng(2)
    a = rng.choice(["0", "1", "2"], 400)
    b = np.where(rng.random(400) < 0.7, a, rng.choice(["0", "1", "2"], 400))
    assert u.cohens_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert u.cohens_kappa(["1", "1"], ["1", "1"]) == 1.0


def test_a_a_comparisons_rarely_call_a_difference():
    """Same model twice (A/A): McNemar says 'different' in at most about 5% of seeds."""
    calls = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        truth_easy = rng.random(500)
        a = rng.random(500) < 0.6 + 0.3 * truth_easy
        b = rng.random(500) < 0.6 + 0.3 * truth_easy
        calls += u.mcnemar_exact(a, b) < 0.05
    assert calls / 200 <= 0.07


def test_bootstrap_interval_covers_the_true_difference_about_95_percent():
    covered, trials, true_diff = 0, 300, 0.04
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        a = rng.random(400) < 0.70
        b = rng.random(400) < 0.74
        got = u.paired_difference_ci(a, b, n_boot=2000, seed=seed)
        covered += got.low <= true_diff <= got.high
    assert 0.91 <= covered / trials <= 0.98


def test_metric_differences_bracket_the_point_difference():
    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, 400)
    a, b = truth + rng.normal(0, 1.0, 400), truth + rng.normal(0, 0.5, 400)

    def metrics(y, pred):
        return {"mae": float(np.mean(np.abs(pred - y)))}

    row = u.metric_differences(truth, a, b, metrics, n_boot=300)[0]
    assert row["difference"] == pytest.approx(row["challenger"] - row["champion"])
    assert row["low"] < row["difference"] < row["high"] < 0  # the challenger's error is clearly lower


def test_newcombes_paired_interval_covers_and_shared_failures_do_not_widen_it():
    from staging.analytics.uncertainty import newcombe_paired_difference

    rng = np.random.default_rng(11)
    covered, trials, n = 0, 400, 400
    for _ in range(trials):
        shared = rng.random(n) < 0.05  # both fail on these (the same bad inputs)
        a = shared | (rng.random(n) < 0.02)
        b = shared | (rng.random(n) < 0.03)
        interval = newcombe_paired_difference(int((a & b).sum()), int((b & ~a).sum()), int((a & ~b).sum()), n)
        covered += interval.low <= 0.95 * (0.98 - 0.97) <= interval.high  # the true difference
    assert 0.92 <= covered / trials <= 0.99
    only_shared = newcombe_paired_difference(40, 0, 0, 400)
    unpaired = u.newcombe_difference(40, 400, 40, 400)
    assert only_shared.estimate == 0 and (only_shared.high - only_shared.low) < (unpaired.high - unpaired.low) / 3
