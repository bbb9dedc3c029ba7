"""Segment analysis: Benjamini-Hochberg against statsmodels, and a planted weak slice found."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from staging.analytics.multiple_testing import benjamini_hochberg
from staging.analytics.segments import segment_table, worst_segment_sentence


def test_benjamini_hochberg_matches_statsmodels():
    p = np.random.default_rng(4).random(40) ** 3
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert benjamini_hochberg([]).size == 0


def _frame(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 75, n), "city": rng.choice(["a", "b", "c"], n),
                          "y": rng.integers(0, 2, n)})
    right_champion = rng.random(n) < 0.8
    right_challenger = rng.random(n) < 0.8
    young = frame["age"] < 30
    right_challenger[young.to_numpy()] = rng.random(young.sum()) < 0.55  # planted: worse for the young
    frame["champion_prediction"] = np.where(right_champion, frame["y"], 1 - frame["y"]).astype(str)
    frame["challenger_prediction"] = np.where(right_challenger, frame["y"], 1 - frame["y"]).astype(str)
    return frame


def test_the_planted_weak_slice_comes_first_and_is_flagged():
    table = segment_table(_frame(), "y", "classification", ("age",), ("city",))
    first = table.iloc[0]
    assert first["feature"] == "age" and first["slice"].startswith("age 18")
    assert first["challenger_worse"] and first["difference"] < -0.15
    cities = table[table["feature"] == "city"]  # the young are spread over every city: milder there
    assert cities["difference"].min() > first["difference"] + 0.1
    assert table["difference"].is_monotonic_increasing
    assert worst_segment_sentence(table).startswith("The challenger is worse for age 18")


def test_no_real_difference_flags_nothing():
    frame = _frame(seed=1)
    frame["challenger_prediction"] = frame["champion_prediction"]
    table = segment_table(frame, "y", "classification", ("age",), ("city",))
    assert not table["challenger_worse"].any()
    assert worst_segment_sentence(table).startswith("No slice where the challenger is significantly worse")


def test_regression_slices_use_absolute_error():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"km": rng.random(600) * 10, "y": rng.normal(30, 5, 600)})
    frame["champion_score"] = frame["y"] + rng.normal(0, 2, 600)
    frame["challenger_score"] = frame["y"] + rng.normal(0, 2, 600) + np.where(frame["km"] > 7.5, 6, 0)
    table = segment_table(frame, "y", "regression", ("km",), ())
    assert table.iloc[0]["slice"].startswith("km 7") and table.iloc[0]["challenger_worse"]
    assert table.iloc[0]["metric"] == "MAE"



def test_the_gate_fails_a_slice_only_when_it_is_shown_worse_by_more_than_the_margin():
    """The one-sided test against the margin equals statsmodels' z-test on the paired gaps; it
    finds the planted slice, and on equally good models it almost never fires."""
    from statsmodels.stats.weightstats import DescrStatsW

    from staging.analytics.segments import worse_beyond, worse_beyond_p

    frame = _frame()
    table = segment_table(frame, "y", "classification", ("age",), ("city",))
    young = table.index[table["slice"].str.startswith("age 18")][0]
    part = frame[frame["age"] < 30]
    truth = part["y"].astype(str)
    gaps = (part["challenger_prediction"] == truth).astype(float) - (part["champion_prediction"] == truth)
    expected = DescrStatsW(gaps.to_numpy() + 0.02).ztest_mean(0, alternative="smaller")[1]
    assert worse_beyond_p(table, 0.02)[young] == pytest.approx(expected, rel=1e-9)
    adjusted = worse_beyond(table, 0.02)
    older = table["slice"].str.startswith("age") & (table.index != young)
    assert adjusted[young] == adjusted.min() < 0.05 and (adjusted[older] > 0.05).all()  # the planted slice first
    # (each city holds a share of the young, so each is worse by about 6 points: past the margin too)
    fired = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        equal = _frame(n=2000, seed=seed)
        right = rng.random(len(equal)) < 0.8  # the challenger as good as the champion, its own errors
        equal["challenger_prediction"] = np.where(right, equal["y"], 1 - equal["y"]).astype(str)
        fired += worse_beyond(segment_table(equal, "y", "classification", ("age",), ("city",)), 0.02).min() < 0.05
    assert fired <= 2
