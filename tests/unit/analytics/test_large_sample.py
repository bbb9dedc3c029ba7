"""The O(n) intervals used above 20k labelled requests against the index bootstrap and
scikit-learn on the same data."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from staging.analytics.large_sample import classification_differences, regression_differences


def index_bootstrap(n, statistic, n_boot=600, seed=1):
    rng = np.random.default_rng(seed)
    return np.percentile([statistic(rng.integers(0, n, n)) for _ in range(n_boot)], [2.5, 97.5])


@pytest.fixture(scope="module")
def classified():
    rng = np.random.default_rng(5)
    n = 6000
    truth = rng.random(n) < 0.3
    shared = rng.normal(0, 1, n)
    score_a = 1 / (1 + np.exp(-(1.5 * (truth * 2 - 1) + shared + rng.normal(0, 1.4, n))))
    score_b = 1 / (1 + np.exp(-(1.7 * (truth * 2 - 1) + shared + rng.normal(0, 1.2, n))))
    rows = classification_differences(truth, score_a >= 0.5, score_b >= 0.5, (score_a >= 0.5) == truth,
                                      (score_b >= 0.5) == truth, score_a, score_b)
    return truth, score_a, score_b, {row["metric"]: row for row in rows}


SKLEARN = {"accuracy": lambda y, s: accuracy_score(y, s >= 0.5), "precision": lambda y, s: precision_score(y, s >= 0.5),
           "recall": lambda y, s: recall_score(y, s >= 0.5), "f1": lambda y, s: f1_score(y, s >= 0.5),
           "roc_auc": roc_auc_score, "log_loss": log_loss}


@pytest.mark.parametrize("metric", list(SKLEARN))
def test_classification_values_equal_sklearn_and_intervals_match_the_index_bootstrap(classified, metric):
    truth, score_a, score_b, rows = classified
    row = rows[metric]
    assert row["champion"] == pytest.approx(SKLEARN[metric](truth, score_a))
    assert row["challenger"] == pytest.approx(SKLEARN[metric](truth, score_b))

    def gap(index):
        return SKLEARN[metric](truth[index], score_b[index]) - SKLEARN[metric](truth[index], score_a[index])

    low, high = index_bootstrap(truth.size, gap)
    width = high - low
    assert row["low"] == pytest.approx(low, abs=0.12 * width) and row["high"] == pytest.approx(high, abs=0.12 * width)


SKLEARN_REGRESSION = {"mae": mean_absolute_error, "rmse": root_mean_squared_error, "r2": r2_score}


@pytest.mark.parametrize("metric", list(SKLEARN_REGRESSION))
def test_regression_values_equal_sklearn_and_intervals_match_the_index_bootstrap(metric):
    rng = np.random.default_rng(9)
    truth = rng.gamma(3, 10, 5000)
    a, b = truth + rng.normal(0, 6, 5000), truth + rng.standard_t(4, 5000) * 4
    row = {r["metric"]: r for r in regression_differences(truth, a, b)}[metric]
    func = SKLEARN_REGRESSION[metric]
    assert row["champion"] == pytest.approx(func(truth, a)) and row["challenger"] == pytest.approx(func(truth, b))
    low, high = index_bootstrap(truth.size, lambda i: func(truth[i], b[i]) - func(truth[i], a[i]))
    width = high - low
    assert row["low"] == pytest.approx(low, abs=0.12 * width) and row["high"] == pytest.approx(high, abs=0.12 * width)


def test_delong_interval_covers_the_true_auc_difference():
    """Simulated: two scorers with known population AUCs; the interval covers their
    difference in about 95% of samples."""
    rng = np.random.default_rng(3)
    covered = 0
    trials = 200
    big = 400_000
    truth = rng.random(big) < 0.4
    noise = rng.normal(0, 1, (2, big))
    population = [roc_auc_score(truth, truth * 1.0 + noise[0]), roc_auc_score(truth, truth * 1.3 + noise[1])]
    for _ in range(trials):
        index = rng.integers(0, big, 2000)
        row = {r["metric"]: r for r in classification_differences(
            truth[index], truth[index], truth[index], truth[index], truth[index],
            truth[index] * 1.0 + noise[0][index], truth[index] * 1.3 + noise[1][index], n_boot=10)}["roc_auc"]
        covered += row["low"] <= population[1] - population[0] <= row["high"]
    assert 0.90 <= covered / trials <= 0.99


def test_the_run_analysis_switches_methods_above_twenty_thousand_labels():
    import pandas as pd

    from staging.analytics.paired import metric_difference_table

    rng = np.random.default_rng(0)
    n = 25_000
    truth = rng.integers(0, 2, n)
    scores = {role: np.clip(truth * 0.6 + rng.normal(0.2, 0.25, n), 0, 1) for role in ("champion", "challenger")}
    rows = pd.DataFrame({"y": truth, **{f"{r}_score": s for r, s in scores.items()},
                         **{f"{r}_prediction": np.where(s >= 0.5, "1", "0") for r, s in scores.items()}})
    big = metric_difference_table(rows, "y", "classification")["differences"].set_index("metric")
    small = metric_difference_table(rows.iloc[:2000], "y", "classification")["differences"].set_index("metric")
    assert big.loc["accuracy", "method"] == "bootstrap over cells" and big.loc["roc_auc", "method"] == "DeLong"
    assert (small["method"] == "bootstrap over requests").all()
    assert big.loc["roc_auc", "champion"] == pytest.approx(roc_auc_score(truth, scores["champion"]))
