"""The demo bootstrap: train, log and register a champion and a challenger per scenario.

`bootstrap_demo` is idempotent. Versions already registered from the same sample data
and training code are reused (no retraining); the aliases are then set to the demo's
starting point: `champion` on the earlier model, `challenger` on the newer one.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import joblib
import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema, TensorSpec
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ..home import SandboxHome
from ..refs import ModelRef
from ..roles import CHALLENGER, CHAMPION
from .client import Registry
from .scenarios import SCENARIOS, Scenario

FINGERPRINT_TAG = "sandbox.demo_fingerprint"
ROLE_TAG = "sandbox.demo_role"
DEMO_EXPERIMENT = "staging-sandbox-demo"
CLASSIFIER_CODE = Path(__file__).resolve().parent / "model_code" / "probability_classifier.py"


@dataclass(frozen=True)
class DemoModels:
    scenario: str
    champion: ModelRef
    challenger: ModelRef
    trained: bool  # False when existing versions were reused


def _fingerprint(scenario: Scenario) -> str:
    digest = hashlib.sha256()
    for path in (scenario.file("train"), scenario.file("recent"), Path(__file__), CLASSIFIER_CODE):
        digest.update(path.read_bytes())
    digest.update(sklearn.__version__.encode())
    return digest.hexdigest()[:16]


def _preprocessor(scenario: Scenario, for_trees: bool) -> ColumnTransformer:
    numeric = list(scenario.numeric)
    categorical = list(scenario.categorical)
    if for_trees:
        encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1)
        return ColumnTransformer([("num", "passthrough", numeric), ("cat", encode, categorical)])
    fill = SimpleImputer(strategy="constant", fill_value="missing")
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(fill, OneHotEncoder(handle_unknown="ignore")), categorical),
    ])


def _estimator(scenario: Scenario, role: str):
    trees = role == CHALLENGER
    n_num = len(scenario.numeric)
    cat_mask = [False] * n_num + [True] * len(scenario.categorical)
    if scenario.task == "classification":
        model = (HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, categorical_features=cat_mask,
                                                random_state=0)
                 if trees else LogisticRegression(max_iter=1000))
    else:
        model = (HistGradientBoostingRegressor(max_iter=200, categorical_features=cat_mask, random_state=0)
                 if trees else Ridge(alpha=1.0))
    return make_pipeline(_preprocessor(scenario, trees), model)


def input_schema(scenario: Scenario, frame: pd.DataFrame) -> Schema:
    """Explicit signature: integers stay `long`, columns with gaps in training are optional."""
    specs = []
    for column in scenario.numeric:
        kind = "long" if pd.api.types.is_integer_dtype(frame[column]) else "double"
        specs.append(ColSpec(kind, column, required=not frame[column].isna().any()))
    for column in scenario.categorical:
        specs.append(ColSpec("string", column, required=not frame[column].isna().any()))
    return Schema(list[ColSpec | TensorSpec](specs))


def _requirements(*extra: str) -> list[str]:
    return [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}", f"joblib=={joblib.__version__}", *extra]


def _log_model(scenario: Scenario, role: str, train: pd.DataFrame, fingerprint: str) -> str:
    """Fit, log and register one model; returns the new version number."""
    features = train[list(scenario.features)]
    estimator = _estimator(scenario, role).fit(features, train[scenario.target])
    example = features.head(5)
    with mlflow.start_run(run_name=f"demo-{scenario.key}-{role}") as run:
        mlflow.log_params({"role": role, "algorithm": type(estimator[-1]).__name__, "rows": len(train)})
        fitted = estimator.predict(features)  # the training fit, as a training job would log it
        mlflow.log_metric("train_accuracy" if scenario.task == "classification" else "train_mae",
                          float((fitted == train[scenario.target]).mean()) if scenario.task == "classification"
                          else float((fitted - train[scenario.target]).abs().mean()))
        if scenario.task == "classification":
            with tempfile.TemporaryDirectory() as tmp:
                # a plain pickle, not joblib's format: joblib writes raw array bytes between pickle
                # opcodes, which a security scanner cannot read past (see `artifact_scan`)
                artifact = Path(tmp) / "estimator.pkl"
                artifact.write_bytes(pickle.dumps(estimator, protocol=5))
                output = estimator.predict_proba(example)
                out_frame = pd.DataFrame(output, columns=[f"probability_{c}" for c in estimator.classes_])
                out_frame.insert(0, "label", estimator.predict(example))
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=str(CLASSIFIER_CODE), artifacts={"estimator": str(artifact)},
                    signature=ModelSignature(input_schema(scenario, train), infer_signature(example, out_frame).outputs),
                    input_example=example, pip_requirements=_requirements(f"mlflow-skinny=={mlflow.__version__}"),
                    registered_model_name=scenario.model_name,
                )
        else:
            outputs = infer_signature(example, estimator.predict(example)).outputs
            info = mlflow.sklearn.log_model(
                estimator, name="model", serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                signature=ModelSignature(input_schema(scenario, train), outputs),
                input_example=example, pip_requirements=_requirements(f"cloudpickle=={cloudpickle.__version__}"),
                registered_model_name=scenario.model_name,
            )
        del run
    version = str(info.registered_model_version)
    client = mlflow.tracking.MlflowClient()
    client.set_model_version_tag(scenario.model_name, version, FINGERPRINT_TAG, fingerprint)
    client.set_model_version_tag(scenario.model_name, version, ROLE_TAG, role)
    return version


def _existing_versions(registry: Registry, scenario: Scenario, fingerprint: str) -> dict[str, str]:
    found: dict[str, str] = {}
    query = f"name = '{scenario.model_name}'"
    for version in registry.client.search_model_versions(query):
        tags = version.tags
        if tags.get(FINGERPRINT_TAG) == fingerprint and tags.get(ROLE_TAG) in (CHAMPION, CHALLENGER):
            found.setdefault(tags[ROLE_TAG], str(version.version))
    return found


def _use_experiment(home: SandboxHome, registry: Registry) -> None:
    """The demo experiment, with its artifacts under the sandbox home (never ./mlruns)."""
    experiment = registry.client.get_experiment_by_name(DEMO_EXPERIMENT)
    if experiment is None:  # a tracking server keeps artifacts where it was told to
        location = None if home.remote_tracking else home.artifacts_dir.as_uri()
        registry.client.create_experiment(DEMO_EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(DEMO_EXPERIMENT)


def bootstrap_scenario(home: SandboxHome, scenario: Scenario) -> DemoModels:
    registry = Registry(home)
    fingerprint = _fingerprint(scenario)
    versions = _existing_versions(registry, scenario, fingerprint)
    trained = False
    if set(versions) != {CHAMPION, CHALLENGER}:
        _use_experiment(home, registry)
        champion_rows = pd.read_parquet(scenario.file("train"))
        challenger_rows = pd.read_parquet(scenario.file("recent"))
        versions = {CHAMPION: _log_model(scenario, CHAMPION, champion_rows, fingerprint),
                    CHALLENGER: _log_model(scenario, CHALLENGER, challenger_rows, fingerprint)}
        trained = True
    for role, version in versions.items():
        registry.set_alias(scenario.model_name, role, version)
    return DemoModels(scenario.key, ModelRef(scenario.model_name, versions[CHAMPION], CHAMPION),
                      ModelRef(scenario.model_name, versions[CHALLENGER], CHALLENGER), trained)


def bootstrap_demo(home: SandboxHome, scenarios: tuple[str, ...] = tuple(SCENARIOS)) -> list[DemoModels]:
    """Make sure every demo scenario's champion and challenger are registered and aliased."""
    return [bootstrap_scenario(home, SCENARIOS[key]) for key in scenarios]


if __name__ == "__main__":
    start = time.perf_counter()
    print(bootstrap_demo(SandboxHome.from_env()), f"{time.perf_counter() - start:.1f}s")
