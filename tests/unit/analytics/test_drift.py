"""Drift statistics against independent computations with scipy and Evidently's formulas."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from staging.analytics import drift
from staging.analytics.drift_samples import sample_of


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_ks_matches_scipy(rng):
    ref, cur = pd.Series(rng.normal(0, 1, 500)), pd.Series(rng.normal(0.3, 1, 400))
    result = drift.column_drift(ref, cur, True, "ks")
    assert result.score == pytest.approx(stats.ks_2samp(ref, cur).pvalue)
    assert result.drifted is True and result.kind == "p_value"


def test_chi_squared_matches_expected_counts_from_reference_shares():
    ref = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur = pd.Series(["a"] * 20 + ["b"] * 20 + ["c"] * 10)
    expected = np.array([50, 30, 20]) * 0.5
    p = stats.chisquare([20, 20, 10], expected).pvalue
    assert drift.column_drift(ref, cur, False, "chisquare").score == pytest.approx(p)


def test_z_test_matches_two_proportion_formula():
    ref = pd.Series([0] * 700 + [1] * 300)
    cur = pd.Series([0] * 550 + [1] * 450)
    p1, p2 = 0.3, 0.45
    pooled = (300 + 450) / 2000
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 1000))
    assert drift.column_drift(ref, cur, True, "z").score == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))))


def test_z_test_on_identical_constant_columns_is_not_drift():
    result = drift.column_drift(pd.Series(["x"] * 10), pd.Series(["x"] * 5), False, "z")
    assert result.score == 1.0 and not result.drifted


def test_wasserstein_is_normed_by_reference_std(rng):
    ref, cur = pd.Series(rng.normal(10, 2, 3000)), pd.Series(rng.normal(10.5, 2, 2000))
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    result = drift.column_drift(ref, cur, True, "wasserstein")
    assert result.score == pytest.approx(expected)
    assert result.drifted == (expected >= 0.1)


def test_wasserstein_on_constant_reference_uses_floor():
    ref, cur = pd.Series([5.0] * 2000), pd.Series([5.0] * 1000 + [6.0] * 1000)
    assert drift.column_drift(ref, cur, True, "wasserstein").score == pytest.approx(0.5 / 0.001)


def test_jensen_shannon_categorical_matches_scipy():
    ref = pd.Series(["a"] * 600 + ["b"] * 400)
    cur = pd.Series(["a"] * 300 + ["b"] * 500 + ["c"] * 200)
    expected = distance.jensenshannon([0.6, 0.4, 0.0], [0.3, 0.5, 0.2])
    assert drift.column_drift(ref, cur, False, "jensenshannon").score == pytest.approx(expected)


def test_jensen_shannon_numeric_uses_sturges_bins(rng):
    ref, cur = pd.Series(rng.normal(0, 1, 2000)), pd.Series(rng.normal(0.5, 1, 1500))
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    expected = distance.jensenshannon(np.histogram(ref, edges)[0] / 2000, np.histogram(cur, edges)[0] / 1500)
    assert drift.column_drift(ref, cur, True, "jensenshannon").score == pytest.approx(expected)


@pytest.mark.parametrize("n_ref, values, numeric, expected", [
    (500, 50, True, "ks"), (500, 4, True, "chisquare"), (500, 2, True, "z"),
    (500, 3, False, "chisquare"), (500, 2, False, "z"),
    (5000, 50, True, "wasserstein"), (5000, 4, True, "jensenshannon"), (5000, 10, False, "jensenshannon"),
])
def test_default_test_follows_evidently(n_ref, values, numeric, expected):
    ref = pd.Series(np.arange(n_ref) % values)
    cur = pd.Series(np.arange(100) % values)
    assert drift.default_test(sample_of(ref, numeric), sample_of(cur, numeric), numeric) == expected


def test_column_drift_drops_missing_values_and_handles_empty():
    ref = pd.Series([1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0, np.inf])
    cur = pd.Series([1.0, 2.0, np.nan, 3.0, 4.0, 5.0, 6.0])
    result = drift.column_drift(ref, cur, numeric=True)
    assert result.test == "ks" and result.score == pytest.approx(1.0)
    empty = drift.column_drift(pd.Series([np.nan]), cur, numeric=True)
    assert empty.kind == "empty" and not empty.drifted


def test_feature_drift_finds_the_shifted_column_and_dataset_rule(rng):
    n = 3000
    ref = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(0, 1, n), "c": rng.choice(["x", "y"], n)})
    cur = pd.DataFrame({"a": rng.normal(1.0, 1, n), "b": rng.normal(0, 1, n), "c": rng.choice(["x", "y"], n)})
    table = drift.feature_drift(ref, cur, ("a", "b"), ("c",))
    assert table.set_index("feature")["drifted"].to_dict() == {"a": True, "b": False, "c": False}
    assert drift.dataset_drift(table) is False
    assert drift.dataset_drift(table.assign(drifted=[True, True, False])) is True
    assert drift.dataset_drift(table.iloc[:0]) is False


def test_psi_matches_its_formula_on_categories():
    ref = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    cur = pd.Series(["a"] * 300 + ["b"] * 300 + ["c"] * 400)
    r, c = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    expected = np.sum((c - r) * np.log(c / r))
    got = drift.column_drift(ref, cur, False, "psi")
    assert got.score == pytest.approx(expected) and got.drifted == (expected >= 0.1)


def test_a_columns_test_and_threshold_can_be_chosen(rng):
    ref = pd.DataFrame({"a": rng.normal(0, 1, 3000)})
    cur = pd.DataFrame({"a": rng.normal(0.05, 1, 3000)})
    default = drift.feature_drift(ref, cur, ("a",), ())
    chosen = drift.feature_drift(ref, cur, ("a",), (), {"a": ("ks", 0.5)})
    assert default.loc[0, "test"] == "wasserstein" and chosen.loc[0, "test"] == "ks"
    assert chosen.loc[0, "threshold"] == 0.5
    assert chosen.loc[0, "score"] == pytest.approx(stats.ks_2samp(ref["a"], cur["a"]).pvalue)
    assert "psi" in default.columns


def test_drift_over_time_shows_when_it_started(rng):
    ref = pd.DataFrame({"a": rng.normal(0, 1, 3000)})
    times = pd.date_range("2026-10-05", periods=14 * 600, freq="144s", tz="UTC")  # 600 a day
    shift = np.where(times >= pd.Timestamp("2026-10-12", tz="UTC"), 1.0, 0.0)
    cur = pd.DataFrame({"timestamp": times, "a": rng.normal(shift, 1, len(times))})
    table = drift.drift_over_time(ref, cur, ("a",), ())
    by_window = table.set_index("window")["drifted"]
    assert not by_window[by_window.index < pd.Timestamp("2026-10-12")].any()
    assert by_window[by_window.index >= pd.Timestamp("2026-10-12")].all()


def test_prediction_drift_per_model(rng):
    reference = pd.DataFrame({"target": ["champion"] * 2000 + ["challenger"] * 2000,
                              "score": np.concatenate([rng.beta(2, 8, 2000), rng.beta(2, 8, 2000)])})
    results = pd.DataFrame({"target": ["champion"] * 1500 + ["challenger"] * 1500, "status": 200,
                            "score": np.concatenate([rng.beta(2, 8, 1500), rng.beta(4, 6, 1500)])})
    table = drift.prediction_drift(reference, results).set_index("model")
    assert not table.loc["champion", "drifted"] and table.loc["challenger", "drifted"]
    expected = stats.wasserstein_distance(reference["score"][2000:], results["score"][1500:]) / np.std(
        reference["score"][2000:])
    assert table.loc["challenger", "score"] == pytest.approx(expected)
    shares = drift.score_histograms(reference, results).groupby(["model", "source"])["share"].sum()
    assert np.allclose(shares, 1.0)
