"""Quality metrics against scikit-learn on the same data."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from staging.analytics import quality


@pytest.fixture
def classification():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.25, 500), 0, 1)
    score[:20] = 0.5  # ties
    return y, (score > 0.5).astype(int), score


def test_classification_metrics_match_sklearn(classification):
    y, pred, score = classification
    got = quality.classification_metrics(y.astype(str), pred.astype(str), score, "1")
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert got["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert got["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, score))
    assert got["labelled"] == 500


def test_one_class_gives_nan_auc_and_no_crash():
    got = quality.classification_metrics(["0"] * 5, ["0", "1", "0", "0", "0"], [0.1, 0.9, 0.2, 0.3, 0.1], "1")
    assert np.isnan(got["roc_auc"]) and np.isnan(got["recall"])
    assert got["precision"] == 0.0 and got["accuracy"] == pytest.approx(0.8)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(5)
    y = rng.normal(30, 8, 300)
    pred = y + rng.normal(0, 3, 300)
    got = quality.regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, pred)))
    assert np.isnan(quality.regression_metrics([], [])["mae"])


def test_labels_and_positive_class():
    assert quality.label_text(pd.Series([1.0, 0.0, "yes"])).tolist() == ["1", "0", "yes"]
    assert quality.positive_class(pd.Series(["0", "1", "0"])) == "1"
    assert quality.positive_class(pd.Series(["no", "yes"])) == "yes"


def test_quality_table_uses_only_labelled_requests_answered_by_both():
    pairs = pd.DataFrame({
        "request_id": ["a", "b", "c", "d"],
        "champion_prediction": ["1", "0", "1", "0"], "champion_score": [0.9, 0.2, 0.6, 0.4],
        "champion_status": [200, 200, 200, 200], "champion_error": ["", "", "", ""],
        "challenger_prediction": ["1", "1", "0", "0"], "challenger_score": [0.8, 0.7, 0.3, 0.1],
        "challenger_status": [200, 200, 500, 200], "challenger_error": ["", "", "HTTP 500", ""],
    })
    labels = pd.DataFrame({"request_id": ["a", "b", "c"], "y": [1, 0, 0]})
    table = quality.quality_table(pairs, labels, "y", "classification")
    assert table.loc["champion", "labelled"] == 2  # c failed for the challenger, d has no label
    assert table.loc["champion", "accuracy"] == 1.0
    assert table.loc["challenger", "accuracy"] == 0.5


def test_log_loss_and_r2_match_sklearn(classification):
    y, _, score = classification
    got = quality.classification_metrics(y.astype(str), (score > 0.5).astype(int).astype(str), score, "1")
    assert got["log_loss"] == pytest.approx(metrics.log_loss(y, score))
    rng = np.random.default_rng(9)
    truth = rng.normal(10, 3, 200)
    pred = truth + rng.normal(0, 1, 200)
    assert quality.regression_metrics(truth, pred)["r2"] == pytest.approx(metrics.r2_score(truth, pred))
