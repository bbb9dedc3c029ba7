"""The artifact scan on files made here: a custom PythonModel's own code needs trust, a pickle
that runs a command is refused even when trusted, and every file is listed with its kind."""

import os
import pickle

import pandas as pd
import pytest

from staging.errors import ModelRefused
from staging.refs import ModelRef
from staging.registry.scan import MODEL_CODE, refuse_dangerous, scan_model_files, trusted_models


class Threshold:
    def predict(self, context, model_input, params=None):
        return pd.DataFrame({"label": (model_input["x"] > 0).astype(int), "probability": model_input["x"].clip(0, 1)})


class Command:
    def __reduce__(self):
        return (os.system, ("echo owned",))


@pytest.fixture(scope="module")
def custom_model(tmp_path_factory):
    import cloudpickle
    import mlflow
    from mlflow.pyfunc import PythonModel

    folder = tmp_path_factory.mktemp("custom") / "model"
    model_class = type("UsersModel", (Threshold, PythonModel), {})
    cloudpickle.register_pickle_by_value(__import__(__name__))
    try:
        mlflow.pyfunc.save_model(str(folder), python_model=model_class())
    finally:
        cloudpickle.unregister_pickle_by_value(__import__(__name__))
    return folder


def test_a_cloudpickled_python_model_runs_only_once_trusted(custom_model):
    scan = scan_model_files("models:/mine/3", custom_model)
    assert not scan.refused and scan.model_code
    assert all(f.module.startswith("cloudpickle") for f in scan.model_code)
    assert all(f.severity == MODEL_CODE for f in scan.model_code)
    with pytest.raises(ModelRefused) as refused:
        refuse_dangerous([scan])
    assert "--trust-code" in refused.value.hint and "models-from-code" in refused.value.hint
    refuse_dangerous([scan], frozenset({"models:/mine/3"}))  # trusted: no error
    assert ("python_model.pkl", "pickle, scanned") in scan.files and ("MLmodel", "metadata") in scan.files


def test_a_pickle_that_runs_a_command_is_refused_even_when_trusted(tmp_path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Command()))
    scan = scan_model_files("models:/evil/1", tmp_path)
    assert scan.refused and any(f.name == "system" for f in scan.dangerous)
    with pytest.raises(ModelRefused) as refused:
        refuse_dangerous([scan], frozenset({"models:/evil/1"}))
    assert "system" in str(refused.value)


def test_every_file_is_listed_with_its_kind_and_skops_is_checked_by_skops(tmp_path):
    import mlflow
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5, "b": [1.0, 0.0, 1.0, 0.0] * 5})
    y = [0, 1, 0, 1] * 5
    mlflow.sklearn.save_model(LogisticRegression().fit(x, y), str(tmp_path / "linear"))
    scan = scan_model_files("models:/linear/1", tmp_path / "linear")
    kinds = dict(scan.files)
    assert kinds["model.skops"] == "skops, every type trusted by skops"
    assert ("sklearn.linear_model._logistic", "LogisticRegression") in scan.imports  # read from its schema
    assert "model.skops (skops" in scan.sentence() and not scan.refused
    mlflow.sklearn.save_model(RandomForestClassifier(3).fit(x, y), str(tmp_path / "forest"),
                              skops_trusted_types=["sklearn.tree._tree.Tree"])
    forest = scan_model_files("models:/forest/1", tmp_path / "forest")
    assert "sklearn.tree._tree.Tree" in dict(forest.files)["model.skops"]  # the type skops would not load untrusted
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "model.ubj").write_bytes(b"{}")
    assert dict(scan_model_files("models:/x/1", tmp_path / "native").files)["model.ubj"] == \
        "native format, holds no code"


def test_trust_is_named_by_role_or_version():
    refs = {"champion": ModelRef("churn", "3"), "challenger": ModelRef("churn", "4")}
    assert trusted_models(["champion", "churn/4"], refs) == {"models:/churn/3", "models:/churn/4"}
    assert trusted_models(["models:/other/7"], refs) == {"models:/other/7"}
    from staging.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        trusted_models(["the good one"], refs)
