"""Pairing, agreement, disagreements and latency summaries on hand-made result rows."""

import numpy as np
import pandas as pd
import pytest

from staging.analytics import compare, latency


def rows(target, predictions, scores, latencies, statuses=None):
    n = len(predictions)
    return pd.DataFrame({
        "run_id": "r", "request_id": [f"q{i}" for i in range(n)], "target": target,
        "intended_send": 0.0, "actual_send": 0.0, "latency_ms": latencies,
        "status": statuses or [200] * n, "prediction": predictions, "score": scores,
        "probabilities": "", "error": ["" if s == 200 else f"HTTP {s}" for s in (statuses or [200] * n)],
    })


@pytest.fixture
def results():
    return pd.concat([
        rows("champion", ["1", "0", "1", "0"], [0.9, 0.1, 0.7, 0.4], [10, 12, 11, 13]),
        rows("challenger", ["1", "1", "0", "0"], [0.8, 0.6, 0.2, 0.3], [20, 22, 21, 40], [200, 200, 200, 503]),
    ], ignore_index=True)


def test_agreement_counts_only_requests_both_answered(results):
    pairs = compare.paired(results)
    assert len(pairs) == 4
    agreement = compare.agreement(pairs, "classification")
    assert (agreement.compared, agreement.agreeing) == (3, 1)
    assert agreement.rate == pytest.approx(1 / 3)


def test_disagreements_are_sorted_by_score_gap_and_carry_features(results):
    requests = pd.DataFrame({"request_id": ["q0", "q1", "q2", "q3"], "age": [30, 40, 50, 60]})
    table = compare.disagreements(compare.paired(results), requests, "classification")
    assert table["request_id"].tolist() == ["q1", "q2"]
    assert table["score_gap"].tolist() == pytest.approx([0.5, -0.5])
    assert table["age"].tolist() == [40, 50]


def test_regression_agreement_uses_relative_tolerance():
    pairs = compare.paired(pd.concat([
        rows("champion", ["10", "10", "100"], [10.0, 10.0, 100.0], [1, 1, 1]),
        rows("challenger", ["10.4", "11", "96"], [10.4, 11.0, 96.0], [1, 1, 1]),
    ]))
    assert compare.agreement(pairs, "regression").agreeing == 2


def test_empty_results_give_nan_rate():
    pairs = compare.paired(pd.DataFrame(columns=rows("champion", [], [], []).columns))
    assert np.isnan(compare.agreement(pairs, "classification").rate)


def test_latency_table_matches_numpy_and_counts_errors(results):
    table = latency.latency_table(results)
    assert table.loc["champion", "p50_ms"] == pytest.approx(np.percentile([10, 12, 11, 13], 50))
    assert table.loc["challenger", "p99_ms"] == pytest.approx(np.percentile([20, 22, 21], 99))
    assert table.loc["challenger", "max_ms"] == 22
    assert table.loc["challenger", "error_rate"] == pytest.approx(0.25)
    assert table.loc["champion", "errors"] == 0


def test_latency_histogram_bins_cover_every_success(results):
    hist = latency.latency_histogram(results, bins=5)
    assert hist.groupby("model")["requests"].sum().to_dict() == {"champion": 4, "challenger": 3}


def test_replica_agreement_compares_champion_with_its_copy(results):
    assert compare.replica_agreement(results, "classification") is None
    replica = rows("champion_replica", ["1", "0", "0", "0"], [0.9, 0.1, 0.4, 0.4], [11, 12, 12, 12])
    floor = compare.replica_agreement(pd.concat([results, replica]), "classification")
    assert (floor.compared, floor.agreeing) == (4, 3)
    assert "champion_replica" in latency.latency_table(pd.concat([results, replica])).index


def test_error_rates_carry_wilson_intervals(results):
    from statsmodels.stats.proportion import proportion_confint

    table = latency.latency_table(results)
    low, high = proportion_confint(1, 4, method="wilson")
    assert (table.loc["challenger", "error_rate_low"], table.loc["challenger", "error_rate_high"]) == \
        pytest.approx((low, high))
    assert table.loc["champion", "error_rate_low"] == 0.0


def test_flip_matrix_and_sentence(results):
    matrix = compare.flip_matrix(compare.paired(results))
    assert int(matrix.to_numpy().sum()) == 3  # q3 failed for the challenger
    assert matrix.loc["0", "1"] == 1 and matrix.loc["1", "0"] == 1 and matrix.loc["1", "1"] == 1
    assert compare.flip_sentence(matrix).startswith("The class flips on 67% of requests")


def test_score_deltas_count_every_pair(results):
    deltas = compare.score_deltas(compare.paired(results), bins=4)
    assert deltas["requests"].sum() == 3
    assert deltas["bin_start"].min() == pytest.approx(-0.5)


def test_percentile_intervals_bracket_the_estimate():
    rng = np.random.default_rng(0)
    frame = rows("champion", ["1"] * 500, [0.5] * 500, list(rng.gamma(2, 5, 500)))
    table = latency.percentile_intervals(frame, n_boot=400)
    assert list(table["percentile"]) == ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"]
    bounded = table[table["percentile"] != "max_ms"]
    assert (bounded["low"] <= bounded["estimate"]).all() and (bounded["estimate"] <= bounded["high"]).all()
    top = table.set_index("percentile").loc["max_ms"]  # no interval is claimed for the maximum
    assert np.isnan(top["low"]) and np.isnan(top["high"]) and (table["answers"] == 500).all()
    assert table.loc[0, "estimate"] == pytest.approx(np.percentile(frame["latency_ms"], 50))


def test_errors_are_grouped_by_kind(results):
    extra = rows("challenger", ["1", "1"], [0.1, 0.1], [1, 1]).assign(
        request_id=["x1", "x2"], status=[0, 0], error=["timeout after 30 s", "ClientConnectorError: refused"])
    kinds = latency.error_types(pd.concat([results, extra]))
    assert dict(zip(kinds["kind"], kinds["count"])) == {"HTTP 503": 1, "timeout": 1, "ClientConnectorError": 1}


def test_paired_latency_ratio_and_timeline(results):
    ratio = latency.paired_latency_ratio(results)
    assert ratio["requests"] == 3 and ratio["median"] == pytest.approx(np.median([20 / 10, 22 / 12, 21 / 11]))
    timed = results.assign(actual_send=[0, 1, 2, 3, 0, 1, 2, 3])
    line = latency.latency_over_time(timed, buckets=4)
    assert set(line["model"]) == {"champion", "challenger"}
    assert line[line["model"] == "champion"]["p50_ms"].tolist() == [10, 12, 11, 13]


@pytest.mark.parametrize("q", [50, 95, 99, 100])
def test_exact_percentile_interval_equals_a_simulated_bootstrap(q):
    """Above 2,000 answers the bootstrap distribution of a percentile is computed, not simulated."""
    rng = np.random.default_rng(q)
    values = np.sort(rng.gamma(2, 5, 3000))
    boot = np.array([np.percentile(values[rng.integers(0, values.size, values.size)], q) for _ in range(3000)])
    low, high = latency.order_statistic_interval(values, q)
    expected_low, expected_high = np.percentile(boot, [2.5, 97.5])
    spread = expected_high - expected_low
    assert abs(low - expected_low) < 0.1 * spread and abs(high - expected_high) < 0.1 * spread
    frame = rows("champion", ["1"] * 3000, [0.5] * 3000, list(values))
    table = latency.percentile_intervals(frame).set_index("percentile")
    if q == 100:
        assert np.isnan(table.loc["max_ms", "low"])  # the maximum's row carries no interval
    else:
        assert (table.loc[f"p{q}_ms", "low"], table.loc[f"p{q}_ms", "high"]) == (low, high)
