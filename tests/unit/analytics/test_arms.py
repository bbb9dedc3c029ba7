"""An A/B run's arms window by window, checked against statsmodels' Wilson interval, numpy's
percentile and a bootstrap of our own; and the split's sentence."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from staging.analytics.arms import arm_windows, split_sentence


def ab_results(n=2_000, challenger_slow=1.0, challenger_fail=0.0, seed=3):
    rng = np.random.default_rng(seed)
    target = np.where(rng.random(n) < 0.3, "challenger", "champion")
    latency = rng.lognormal(2.5, 0.4, n) * np.where(target == "challenger", challenger_slow, 1.0)
    failed = (target == "challenger") & (rng.random(n) < challenger_fail)
    return pd.DataFrame({"request_id": [f"q{i}" for i in range(n)], "target": target,
                         "actual_send": np.sort(rng.uniform(0, 100, n)), "latency_ms": latency,
                         "status": np.where(failed, 503, 200), "error": np.where(failed, "HTTP 503", "")})


def test_each_window_holds_each_arm_with_its_own_intervals():
    results = ab_results()
    windows = arm_windows(results, windows=5)
    assert len(windows) == 10 and windows["requests"].sum() == len(results)
    first = windows[(windows["window"] == 1) & (windows["model"] == "challenger")].iloc[0]
    rows = results[(results["actual_send"] < results["actual_send"].min() + 99.99 / 5) & (results["target"] == "challenger")]
    assert first["requests"] == pytest.approx(len(rows), abs=1)
    assert first["p95_ms"] == pytest.approx(np.percentile(rows["latency_ms"], 95), rel=0.02)
    assert first["p95_low"] <= first["p95_ms"] <= first["p95_high"]
    share = windows[windows["window"] == 1].set_index("model")["share"]
    assert share.sum() == pytest.approx(1.0)


def test_the_error_rate_interval_is_wilsons():
    windows = arm_windows(ab_results(challenger_fail=0.1), windows=2)
    for row in windows.itertuples():
        low, high = proportion_confint(row.errors, row.requests, method="wilson")
        assert (row.error_rate_low, row.error_rate_high) == pytest.approx((low, high))


def test_an_arm_with_one_answer_has_no_p95_interval():
    results = ab_results(n=40)
    results.loc[results["target"] == "challenger", "target"] = "champion"
    results.loc[0, "target"] = "challenger"
    windows = arm_windows(results, windows=1)
    lone = windows[windows["model"] == "challenger"].iloc[0]
    assert lone["requests"] == 1 and np.isnan(lone["p95_ms"]) and np.isnan(lone["p95_low"])


def test_the_sentence_names_the_share_asked_and_a_slower_arm():
    calm = split_sentence(arm_windows(ab_results()), 0.3)
    assert "30% was asked for" in calm and "In no window" in calm
    slow = split_sentence(arm_windows(ab_results(challenger_slow=3.0)), 0.3)
    assert "the challenger's p95 latency is above the champion's" in slow


def test_no_request_gives_a_sentence_not_a_number():
    empty = ab_results().iloc[:0]
    assert arm_windows(empty).empty
    assert split_sentence(arm_windows(empty), 0.5).startswith("No request was sent")
