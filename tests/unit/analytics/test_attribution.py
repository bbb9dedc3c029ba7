"""Two models' attributions compared: Clarify's nDCG equals scikit-learn's `ndcg_score`, identical
models give 1.0 and shifts whose intervals hold 0, and a planted shift is found with an interval
that excludes 0."""

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from staging.analytics.attribution import compare_attributions, ndcg, row_reasons


@pytest.mark.parametrize("seed", range(20))
def test_ndcg_equals_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    baseline, live = rng.exponential(size=12), rng.exponential(size=12)
    if seed % 4 == 0:
        live = np.round(live, 0)  # ties in the live order share their gain, as scikit-learn's do
    assert ndcg(baseline, live) == pytest.approx(ndcg_score([baseline], [live]), abs=1e-12)


def test_identical_models_give_one_and_shifts_that_hold_zero():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 8)) * np.arange(1, 9)
    comparison = compare_attributions(values, values.copy(), [f"f{i}" for i in range(8)], "P(y = 1)", n_boot=300)
    assert comparison.ndcg == 1.0 and comparison.ndcg_interval.low == 1.0
    assert ((comparison.table["shift_low"] <= 0) & (comparison.table["shift_high"] >= 0)).all()


def test_a_planted_shift_is_found_and_weights_stand_for_their_stratum():
    rng = np.random.default_rng(1)
    champion = rng.normal(size=(400, 5)) * np.array([5, 4, 3, 2, 1])
    challenger = champion.copy()
    challenger[:, 4] *= 6  # the last feature now matters most
    strata = np.array(["disagreement"] * 100 + ["agreement"] * 300)
    weights = np.where(strata == "disagreement", 1.0, 10.0)
    comparison = compare_attributions(champion, challenger, list("abcde"), "x", weights, strata, n_boot=300)
    row = comparison.table.set_index("feature").loc["e"]
    assert row["shift_low"] > 0 and comparison.ndcg < 0.9 and comparison.top("challenger", 1) == ["e"]
    expected = (weights @ np.abs(champion)) / weights.sum()
    assert np.allclose(comparison.table.set_index("feature").loc[list("abcde"), "champion_mean_abs"], expected)


def test_a_rows_reasons_put_what_pushed_toward_the_answer_first():
    words = row_reasons(np.array([0.05, -0.3, 0.2, 0.0]), ["age", "income", "loan_amount", "region"], toward=1.0)
    assert words == "loan_amount +0.20, age +0.05, income -0.30"
