"""The one-sort-per-column drift statistics against scipy and numpy on the same data, and the
guards that keep verdicts honest at both ends of the sample-size range."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from staging.analytics import drift
from staging.analytics.drift_samples import (
    NumericSample,
    ReferenceProfile,
    binned_shares,
    histogram_counts,
    ks_statistic_pvalue,
    reference_profile,
    sample_of,
    sturges_edges,
    wasserstein_normed,
)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def numeric(values) -> NumericSample:
    return NumericSample.of(pd.Series(values))


@pytest.mark.parametrize("n_ref, n_cur, rounding", [(30_000, 20_000, None), (25_000, 12_000, 1), (400, 300, None)])
def test_ks_equals_scipy_with_and_without_ties(rng, n_ref, n_cur, rounding):
    ref, cur = rng.normal(0, 1, n_ref), rng.normal(0.03, 1.1, n_cur)
    if rounding is not None:
        ref, cur = ref.round(rounding), cur.round(rounding)
    expected = stats.ks_2samp(ref, cur)
    d, p = ks_statistic_pvalue(numeric(ref), numeric(cur))
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("rounding", [None, 0])
def test_wasserstein_equals_scipy_with_ties(rng, rounding):
    ref, cur = rng.gamma(2, 3, 50_000), rng.gamma(2.2, 3, 40_000)
    if rounding is not None:
        ref, cur = ref.round(rounding), cur.round(rounding)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_normed(numeric(ref), numeric(cur)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("make", [
    lambda rng: (rng.normal(0, 1, 5000), rng.normal(0.2, 1, 3000)),
    lambda rng: (rng.integers(0, 40, 5000), rng.integers(0, 45, 3000)),  # integers: width at least 1
    lambda rng: (rng.integers(0, 400, 5000), rng.integers(0, 400, 3000)),
])
def test_sturges_bins_and_counts_equal_numpy(rng, make):
    ref, cur = make(rng)
    expected = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    edges = sturges_edges(numeric(ref), numeric(cur))
    assert np.array_equal(edges, expected)
    assert np.array_equal(histogram_counts(numeric(cur), edges), np.histogram(cur, expected)[0])


def test_numeric_jensen_shannon_and_psi_follow_evidently_formulas(rng):
    ref, cur = rng.normal(0, 1, 4000), rng.normal(0.4, 1, 3000)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    r, c = np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size
    got = drift.column_drift(pd.Series(ref), pd.Series(cur), True, "jensenshannon")
    assert got.score == pytest.approx(distance.jensenshannon(r, c))
    shares = binned_shares(numeric(ref), numeric(cur))
    assert np.allclose(shares[0], r) and np.allclose(shares[1], c)


def test_few_distinct_numeric_values_are_binned_per_value(rng):
    ref, cur = pd.Series(rng.integers(0, 5, 3000)), pd.Series(rng.integers(0, 6, 2000))
    r, c = binned_shares(sample_of(ref, True), sample_of(cur, True))
    keys = sorted(set(ref) | set(cur))
    assert sorted(r) == sorted(ref.value_counts(normalize=True).reindex(keys, fill_value=0))
    assert sorted(c) == sorted(cur.value_counts(normalize=True).reindex(keys, fill_value=0))


def test_a_value_training_never_saw_is_drift_for_chi_squared():
    result = drift.column_drift(pd.Series(["a", "b"] * 50), pd.Series(["a", "b", "c"] * 30), False, "chisquare")
    assert result.score == 0.0 and result.drifted


def test_large_sample_p_values_need_an_effect_to_count(rng):
    """At 200k rows a shift of 2% of a standard deviation is 'significant' and meaningless."""
    ref = pd.DataFrame({"a": rng.normal(0, 1, 200_000), "b": rng.normal(0, 1, 200_000)})
    cur = pd.DataFrame({"a": rng.normal(0.02, 1, 200_000), "b": rng.normal(0.5, 1, 200_000)})
    table = drift.feature_drift(ref, cur, ("a", "b"), (), {"a": ("ks", None), "b": ("ks", None)}).set_index("feature")
    assert table.loc["a", "evidently_drifted"] and not table.loc["a", "drifted"]
    assert "too small to matter" in table.loc["a", "why"]
    assert table.loc["a", "effect"] == pytest.approx(stats.ks_2samp(ref["a"], cur["a"]).statistic)
    assert table.loc["b", "drifted"]


def test_p_values_are_corrected_for_the_number_of_columns(rng):
    ref = pd.DataFrame({f"c{i}": rng.normal(0, 1, 400) for i in range(20)})
    cur = pd.DataFrame({f"c{i}": rng.normal(0, 1, 300) for i in range(20)})
    table = drift.feature_drift(ref, cur, tuple(ref.columns), ())
    expected_q = stats.false_discovery_control(table["score"].to_numpy(), method="bh")
    assert np.allclose(table["q_value"], expected_q)
    assert not table["drifted"].any()


def test_a_distance_on_few_rows_must_beat_sampling_noise(rng):
    """30 requests from the training distribution itself: Evidently's rule flags most columns."""
    columns = [f"c{i}" for i in range(8)]
    ref = pd.DataFrame({c: rng.normal(0, 1, 12_000) for c in columns})
    same = pd.DataFrame({c: rng.normal(0, 1, 30) for c in columns})
    table = drift.feature_drift(ref, same, tuple(columns), ())
    assert table["evidently_drifted"].sum() >= 4
    assert not table["drifted"].any()
    moved = drift.feature_drift(ref, same + 1.5, tuple(columns), ())
    assert moved["drifted"].all()


def test_reference_profile_reads_a_file_once(tmp_path, rng):
    frame = pd.DataFrame({"a": rng.normal(0, 1, 3000), "c": rng.choice(["x", "y", "z"], 3000)})
    path = tmp_path / "reference.parquet"
    frame.to_parquet(path)
    profile = reference_profile(path, ("a",), ("c",))
    assert reference_profile(path, ("a",), ("c",)) is profile
    current = pd.DataFrame({"a": rng.normal(0.3, 1, 2000), "c": rng.choice(["x", "y"], 2000)})
    from_file = drift.feature_drift(profile, current, ("a",), ("c",))
    from_frame = drift.feature_drift(ReferenceProfile.of(frame, ("a",), ("c",)), current, ("a",), ("c",))
    pd.testing.assert_frame_equal(from_file, from_frame)


def test_aa_simulation_few_rows_rarely_flags_anything():
    """Reference and current from one distribution, 40 current rows, 5 columns, 30 seeds:
    Evidently's rule flags something in most seeds; the sandbox in about 5% at most."""
    flagged_ours, flagged_evidently = 0, 0
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        ref = pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.gamma(2, 2, 3000), "c": rng.poisson(4, 3000),
                            "d": rng.choice(list("wxyz"), 3000), "e": rng.choice(["u", "v"], 3000)})
        cur = pd.DataFrame({"a": rng.normal(0, 1, 40), "b": rng.gamma(2, 2, 40), "c": rng.poisson(4, 40),
                            "d": rng.choice(list("wxyz"), 40), "e": rng.choice(["u", "v"], 40)})
        table = drift.feature_drift(ref, cur, ("a", "b", "c"), ("d", "e"))
        flagged_ours += bool(table["drifted"].any())
        flagged_evidently += bool(table["evidently_drifted"].any())
    assert flagged_evidently >= 15
    assert flagged_ours <= 3
