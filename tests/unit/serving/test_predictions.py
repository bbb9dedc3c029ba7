"""Every answer shape the sandbox accepts from a scoring server."""

import math

import pytest

from staging.serving.predictions import PredictionFormatError, parse_predictions


def test_plain_labels_and_values():
    assert [p.label for p in parse_predictions({"predictions": [0, 1, 1]})] == ["0", "1", "1"]
    values = parse_predictions([12.5, 8.0])
    assert [p.score for p in values] == [12.5, 8.0] and values[1].label == "8"
    assert parse_predictions({"predictions": ["cat"]})[0].label == "cat"


def test_probability_lists_pick_argmax_and_positive_class():
    got = parse_predictions({"predictions": [[0.9, 0.1], [0.3, 0.7]]})
    assert [p.label for p in got] == ["0", "1"]
    assert [p.score for p in got] == [0.1, 0.7]
    assert got[1].probabilities == {"0": 0.3, "1": 0.7}


def test_dataframe_records_with_label_and_probabilities():
    got = parse_predictions({"predictions": [{"label": 1, "probability_0": 0.3, "probability_1": 0.7}]})[0]
    assert (got.label, got.score) == ("1", 0.7)
    assert got.probabilities_json() == '{"0": 0.3, "1": 0.7}'


def test_dataframe_columns_and_single_column_records():
    got = parse_predictions({"predictions": {"prediction": [3.5, 4.0]}})
    assert [p.score for p in got] == [3.5, 4.0]
    assert parse_predictions([{"yhat": 2.0}])[0].score == 2.0
    assert parse_predictions([{"proba_no": 0.2, "proba_yes": 0.8}])[0].label == "yes"


def test_unusable_shapes_raise():
    with pytest.raises(PredictionFormatError):
        parse_predictions([{"a": 1, "b": 2}])
    with pytest.raises(PredictionFormatError):
        parse_predictions({"predictions": {"a": [1], "b": [1, 2]}})
    assert math.isnan(parse_predictions([None])[0].score)


@pytest.mark.parametrize("make", [
    lambda p: {"predictions": [{"label": int(x > 0.5), "probability_0": 1 - x, "probability_1": x} for x in p]},
    lambda p: {"predictions": [{"probability_cat": 1 - x, "probability_dog": x} for x in p]},
    lambda p: {"predictions": [float(x) for x in p]},
    lambda p: [[1 - x, x] for x in p],
])
def test_batch_answers_parsed_a_column_at_a_time_equal_row_by_row(make):
    import numpy as np

    from staging.serving.predictions import parse_prediction_columns

    body = make(np.random.default_rng(1).random(300).tolist())
    rows = parse_predictions(body)
    labels, scores, probabilities = parse_prediction_columns(body, 300)
    assert labels == [r.label for r in rows]
    assert np.allclose(scores, [r.score for r in rows], equal_nan=True)
    assert probabilities == [r.probabilities_json() for r in rows]


def test_a_label_and_one_probability_column_keep_the_score_for_the_evidence():
    got = parse_predictions({"predictions": [{"label": "spam", "probability": 0.93}]})[0]
    assert (got.label, got.score, got.probabilities) == ("spam", 0.93, {"*": 0.93})
    named = parse_predictions([{"label": 1, "confidence": 0.2}], score_column="confidence")[0]
    assert named.probabilities == {"*": 0.2}
    with pytest.raises(PredictionFormatError):
        parse_predictions([{"label": 1, "p": 0.2}], score_column="confidence")


def test_per_class_lists_and_dicts_inside_a_record_and_dict_answers():
    listed = parse_predictions([{"label": 2, "probabilities": [0.1, 0.2, 0.7]}])[0]
    assert listed.label == "2" and listed.probabilities == {"0": 0.1, "1": 0.2, "2": 0.7}
    keyed = parse_predictions([{"cat": 0.25, "dog": 0.75}])[0]
    assert keyed.label == "dog" and keyed.probabilities == {"cat": 0.25, "dog": 0.75}
    assert parse_predictions([True])[0].label == "True"  # booleans are labels, never scores
    assert math.isnan(parse_predictions([True])[0].score)
