"""Quality metrics against scikit-learn on the same data."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from staging.analytics import quality
from staging.analytics.classes import ClassSpace, label_text

BINARY = ClassSpace(("0", "1"), "1")


def two_columns(score):
    score = np.asarray(score, float)
    return np.column_stack([1 - score, score])


@pytest.fixture
def classification():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.25, 500), 0, 1)
    score[:20] = 0.5  # ties
    return y, (score > 0.5).astype(int), score


def test_classification_metrics_match_sklearn(classification):
    y, pred, score = classification
    got = quality.classification_metrics(y.astype(str), pred.astype(str), BINARY, two_columns(score))
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert got["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert got["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, score))
    assert got["labelled"] == 500


def test_one_class_gives_nan_auc_and_no_crash():
    got = quality.classification_metrics(["0"] * 5, ["0", "1", "0", "0", "0"], BINARY,
                                         two_columns([0.1, 0.9, 0.2, 0.3, 0.1]))
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
    assert label_text(pd.Series([1.0, 0.0, "yes", True])).tolist() == ["1", "0", "yes", "True"]
    assert ClassSpace.of(pd.Series(["0", "1", "0"]), [], []).positive == "1"
    assert ClassSpace.of(pd.Series([True, False]), [], []).positive == "True"
    # a single score column names its class by where it is high, whatever the names sort as
    said = pd.Series(["spam", "ham", "spam"])
    rows = [{"*": 0.9}, {"*": 0.2}, {"*": 0.7}]
    assert ClassSpace.of(pd.Series(["ham", "spam"]), [said], [rows]).positive == "spam"
    said = pd.Series(["negative", "positive"])
    assert ClassSpace.of(None, [said], [[{"*": 0.1}, {"*": 0.8}]]).positive == "positive"


def test_quality_table_uses_only_labelled_requests_answered_by_both():
    pairs = pd.DataFrame({
        "request_id": ["a", "b", "c", "d"],
        "champion_prediction": ["1", "0", "1", "0"], "champion_score": [0.9, 0.2, 0.6, 0.4],
        "champion_status": [200, 200, 200, 200], "champion_error": ["", "", "", ""],
        "challenger_prediction": ["1", "1", "0", "0"], "challenger_score": [0.8, 0.7, 0.3, 0.1],
        "challenger_status": [200, 200, 500, 200], "challenger_error": ["", "", "HTTP 500", ""],
    })
    labels = pd.DataFrame({"request_id": ["a", "b", "c"], "y": [1, 0, 0]})
    table = quality.quality_table(pairs, labels, "y", "classification", BINARY,
                                  {role: two_columns(pairs[f"{role}_score"]) for role in ("champion", "challenger")})
    assert table.loc["champion", "labelled"] == 2  # c failed for the challenger, d has no label
    assert table.loc["champion", "accuracy"] == 1.0
    assert table.loc["challenger", "accuracy"] == 0.5


def test_log_loss_and_r2_match_sklearn(classification):
    y, _, score = classification
    got = quality.classification_metrics(y.astype(str), (score > 0.5).astype(int).astype(str), BINARY,
                                         two_columns(score))
    assert got["log_loss"] == pytest.approx(metrics.log_loss(y, score))
    rng = np.random.default_rng(9)
    truth = rng.normal(10, 3, 200)
    pred = truth + rng.normal(0, 1, 200)
    assert quality.regression_metrics(truth, pred)["r2"] == pytest.approx(metrics.r2_score(truth, pred))


def multiclass_case(seed=4, n=600, classes=("bird", "cat", "dog")):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(classes), n)
    logits = rng.normal(0, 1, (n, len(classes))) + 1.5 * np.eye(len(classes))[truth]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(classes)
    return names[truth], names[proba.argmax(axis=1)], proba


def test_multiclass_metrics_match_sklearn():
    truth, pred, proba = multiclass_case()
    space = ClassSpace(("bird", "cat", "dog"))
    got = quality.classification_metrics(truth, pred, space, proba)
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(truth, pred))
    for average in ("macro", "weighted"):
        for name, func in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                           ("f1", metrics.f1_score)):
            assert got[f"{name}_{average}"] == pytest.approx(func(truth, pred, average=average)), (name, average)
    assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth, proba, multi_class="ovr", average="macro",
                                                                 labels=list(space.classes)))
    assert got["log_loss"] == pytest.approx(metrics.log_loss(truth, proba, labels=list(space.classes)))
    assert "precision" not in got and "f1" not in got  # no positive class among three


def test_a_class_never_answered_is_counted_not_a_crash():
    truth = np.array(["a", "b", "c", "c"])
    pred = np.array(["a", "b", "b", "b"])
    got = quality.classification_metrics(truth, pred, ClassSpace(("a", "b", "c")))
    assert got["f1_macro"] == pytest.approx(metrics.f1_score(truth, pred, average="macro", zero_division=0))
    assert np.isnan(got["roc_auc"]) and np.isnan(got["log_loss"])  # labels only: never from the labels


def test_per_class_table_and_confusion_match_sklearn():
    truth, pred, _ = multiclass_case(seed=8)
    space = ClassSpace(("bird", "cat", "dog"))
    table = quality.per_class_table(truth, {"champion": pred}, space).set_index("class")
    precision, recall, f1, support = metrics.precision_recall_fscore_support(truth, pred, labels=list(space.classes))
    assert np.allclose(table["champion_precision"], precision) and np.allclose(table["champion_f1"], f1)
    assert np.allclose(table["champion_recall"], recall) and table["support"].tolist() == support.tolist()
    confusion = quality.confusion_matrix(truth, pred, space)
    assert (confusion.to_numpy() == metrics.confusion_matrix(truth, pred, labels=list(space.classes))).all()


def test_position_named_probabilities_map_onto_string_classes():
    said = pd.Series(["2", "0"])
    rows = [{"0": 0.1, "1": 0.2, "2": 0.7}, {"0": 0.8, "1": 0.1, "2": 0.1}]
    space = ClassSpace.of(pd.Series(["ant", "bee", "cow"]), [said], [rows])
    assert space.classes == ("ant", "bee", "cow")
    matrix, why = space.matrix(rows)
    assert why == "" and matrix[0].tolist() == [0.1, 0.2, 0.7]
    assert space.fill_labels(said, matrix).tolist() == ["cow", "ant"]


def test_a_single_class_of_labels_gives_words_not_a_crash():
    from staging.analytics.paired import metric_difference_table

    rows = pd.DataFrame({"y": ["ham"] * 40, "champion_prediction": ["ham"] * 30 + ["spam"] * 10,
                         "challenger_prediction": ["ham"] * 35 + ["spam"] * 5, "index": range(40)})
    space = ClassSpace.of(rows["y"], [rows["champion_prediction"], rows["challenger_prediction"]], [])
    table = metric_difference_table(rows, "y", "classification", space, {"champion": None, "challenger": None})
    differences = table["differences"].set_index("metric")
    assert differences.loc["accuracy", "difference"] == pytest.approx(0.125)
    assert np.isnan(differences.loc["roc_auc", "difference"])  # one class of truth and no scores: no AUC
    assert "labels only" in differences.loc["roc_auc", "based on"]
    one = ClassSpace.of(pd.Series(["ham"] * 5), [pd.Series(["ham"] * 5)], [])
    got = quality.classification_metrics(["ham"] * 5, ["ham"] * 5, one)
    assert got["accuracy"] == 1.0 and np.isnan(got["roc_auc"])
