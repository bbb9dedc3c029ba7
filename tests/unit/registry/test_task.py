"""The task read from what MLflow records about a model, in order, and never assumed."""

import pandas as pd
import pytest

from staging.errors import ConfigurationError
from staging.registry.task import (
    TaskReading,
    from_flavours,
    from_labels,
    from_pickled_classes,
    from_signature_outputs,
    model_task,
    pair_task,
)


def test_boosting_flavours_say_by_their_class():
    assert from_flavours({"flavors": {"xgboost": {"model_class": "xgboost.sklearn.XGBClassifier"}}}).task == \
        "classification"
    assert from_flavours({"flavors": {"lightgbm": {"model_class": "lightgbm.sklearn.LGBMRegressor"}}}).task == \
        "regression"
    assert not from_flavours({"flavors": {"lightgbm": {"model_class": "lightgbm.basic.Booster"}}}).known


def test_scikit_learn_classes_say_by_scikit_learns_own_registry():
    assert from_pickled_classes([("sklearn.pipeline", "Pipeline"), ("sklearn.ensemble._forest",
                                                                    "RandomForestRegressor")]).task == "regression"
    assert from_pickled_classes([("sklearn.linear_model._logistic", "LogisticRegression")]).task == "classification"
    assert not from_pickled_classes([("numpy", "dtype")]).known


@pytest.mark.parametrize("outputs, labels, task", [
    ([{"type": "long"}], None, "classification"),
    ([{"type": "string"}], None, "classification"),
    ([{"type": "double"}], pd.Series([1.5, 2.5, 9.0]), "regression"),
    ([{"type": "double"}], pd.Series([0.0, 1.0, 1.0]), "unknown"),  # classes answered as floats: the labels say
    ([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}], None, "classification"),
    ([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}], None, "regression"),
    ([{"type": "long", "name": "label"}, {"type": "double", "name": "probability"}], None, "classification"),
])
def test_signature_outputs(outputs, labels, task):
    assert from_signature_outputs(outputs, labels).task == task


def test_labels_say_last():
    assert from_labels(pd.Series(["spam", "ham"])).task == "classification"
    assert from_labels(pd.Series([True, False])).task == "classification"
    assert from_labels(pd.Series([0, 1, 2, 1])).task == "classification"
    assert from_labels(pd.Series([12.5, 3.25, 8.0])).task == "regression"
    assert from_labels(pd.Series(range(100))).task == "regression"  # many whole numbers: a quantity


def test_a_tag_says_first_and_the_user_overrides_everything():
    mlmodel = {"flavors": {"xgboost": {"model_class": "xgboost.sklearn.XGBClassifier"}}}
    tagged = model_task(mlmodel, [], [("version 3", "regression")], None)
    assert tagged.task == "regression" and "sandbox.task" in tagged.source
    readings = {"champion": tagged, "challenger": TaskReading("unknown", "")}
    assert pair_task(readings, None).task == "regression"
    assert pair_task(readings, "classification") == TaskReading("classification", "given by the user")


def test_two_models_of_different_kinds_are_refused_and_nothing_is_assumed():
    with pytest.raises(ConfigurationError) as refused:
        pair_task({"champion": TaskReading("classification", "a"), "challenger": TaskReading("regression", "b")},
                  None)
    assert "not the same kind" in str(refused.value)
    assert pair_task({"champion": TaskReading("unknown", ""), "challenger": TaskReading("unknown", "")},
                     None).task == "unknown"
    with pytest.raises(ConfigurationError):
        pair_task({}, "ranking")
