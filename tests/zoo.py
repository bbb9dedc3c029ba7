"""A zoo of model pairs a team might register, none of them the demo's: each pair is trained here,
logged as a user would log it (its flavour, its own requirements), registered with a champion and
a challenger alias, and given recorded traffic, late labels and a training reference.

    zoo-multiclass   three string classes: LogisticRegression against RandomForest, answering
                     per-class probability lists (sklearn's `pyfunc_predict_fn="predict_proba"`)
    zoo-boosting     an XGBoost champion against a LightGBM challenger (their own flavours),
                     answering labels only, each served from its own environment
    zoo-text         a TF-IDF pipeline on free text with "positive"/"negative" labels
    zoo-custom       a custom PythonModel (cloudpickled) answering `label` and `probability`
    zoo-regression   GradientBoostingRegressor against LinearRegression (the challenger is better)
    zoo-nosignature  the same regression pair logged without a signature
    zoo-nullable     a classifier whose optional integer input is sometimes missing
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TREES = ["sklearn.tree._tree.Tree"]  # MLflow 3.17 saves scikit-learn models with skops: trees must be trusted
SHARED = ["skops==0.16.0", "scikit-learn==1.9.1", "numpy==2.4.6", "pandas==3.1.1"]
BOOSTING_REQUIREMENTS = {"xgboost": ["xgboost-cpu==3.2.0", *SHARED], "lightgbm": ["lightgbm==4.7.0", *SHARED]}


@dataclass(frozen=True)
class ZooPair:
    model: str
    task: str
    target: str
    traffic: Path
    labels: Path
    reference: Path
    needs_trust: bool = False
    label_only: bool = False


def _split(frame: pd.DataFrame, target: str, folder: Path, name: str) -> tuple[Path, Path, Path, pd.DataFrame]:
    """Train rows (returned), a training reference with the outcome, traffic with request ids and
    late labels for it."""
    frame = frame.reset_index(drop=True)
    train, reference, live = frame.iloc[:1200], frame.iloc[1200:1800], frame.iloc[1800:]
    live = live.assign(request_id=[f"{name}-{i}" for i in range(len(live))])
    paths = folder / f"{name}-traffic.csv", folder / f"{name}-labels.csv", folder / f"{name}-reference.parquet"
    live.drop(columns=[target]).to_csv(paths[0], index=False)
    live[["request_id", target]].to_csv(paths[1], index=False)
    reference.to_parquet(paths[2], index=False)
    return *paths, train


def _register(mlflow, name: str, versions: list) -> None:
    """Log each (flavour log function, kwargs) as a version; v1 champion, v2 challenger."""
    client = mlflow.MlflowClient()
    for log, kwargs in versions:
        with mlflow.start_run():
            info = log(name="model", registered_model_name=name, **kwargs)
        version = info.registered_model_version
    client.set_registered_model_alias(name, "champion", str(int(version) - 1))
    client.set_registered_model_alias(name, "challenger", str(version))


class LabelAndProbability:
    """A user's custom pyfunc: the label and the positive class's probability, as columns."""

    def __init__(self, estimator, threshold: float = 0.5) -> None:
        self.estimator, self.threshold = estimator, threshold

    def load_context(self, context) -> None:
        return None

    def predict(self, context, model_input, params=None):
        probability = self.estimator.predict_proba(model_input)[:, 1]
        return pd.DataFrame({"label": (probability >= self.threshold).astype(int), "probability": probability})


def build_zoo(home, folder: Path) -> dict[str, ZooPair]:
    """Register every pair in the zoo under `home`'s registry; their files in `folder`."""
    import cloudpickle
    import lightgbm
    import mlflow
    import xgboost
    from mlflow.models import infer_signature
    from mlflow.pyfunc import PythonModel
    from mlflow.types import ColSpec, Schema
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline

    from staging.registry.client import configure_mlflow

    configure_mlflow(home)
    mlflow.set_experiment("zoo")  # not whichever experiment an earlier home left active in this process
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pairs = {}
    sk = mlflow.sklearn.log_model

    # three string classes, probabilities per class as lists
    x, y = make_classification(2400, n_features=6, n_informative=4, n_classes=3, random_state=1)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)]).assign(species=np.array(["bird", "cat", "dog"])[y])
    traffic, labels, reference, train = _split(frame, "species", folder, "multiclass")
    features, target = train.drop(columns=["species"]), train["species"]
    versions = []
    for estimator in (LogisticRegression(max_iter=500), RandomForestClassifier(60, max_depth=6, random_state=0)):
        fitted = estimator.fit(features, target)
        versions.append((sk, {"sk_model": fitted, "pyfunc_predict_fn": "predict_proba",
                              "signature": infer_signature(features, fitted.predict_proba(features))}))
    versions[1][1]["skops_trusted_types"] = TREES
    _register(mlflow, "zoo-multiclass", versions)
    pairs["multiclass"] = ZooPair("zoo-multiclass", "classification", "species", traffic, labels, reference)

    # XGBoost against LightGBM, each with its own requirements, labels only
    x, y = make_classification(2400, n_features=8, n_informative=5, random_state=2)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)]).assign(churned=y)
    traffic, labels, reference, train = _split(frame, "churned", folder, "boosting")
    features, target = train.drop(columns=["churned"]), train["churned"]
    booster = xgboost.XGBClassifier(n_estimators=40, max_depth=3).fit(features, target)
    light = lightgbm.LGBMClassifier(n_estimators=40, verbose=-1).fit(features, target)
    _register(mlflow, "zoo-boosting", [
        (mlflow.xgboost.log_model, {"xgb_model": booster, "pip_requirements": BOOSTING_REQUIREMENTS["xgboost"],
                                    "signature": infer_signature(features, booster.predict(features))}),
        (mlflow.lightgbm.log_model, {"lgb_model": light, "pip_requirements": BOOSTING_REQUIREMENTS["lightgbm"],
                                     "signature": infer_signature(features, light.predict(features))})])
    pairs["boosting"] = ZooPair("zoo-boosting", "classification", "churned", traffic, labels, reference,
                                label_only=True)

    # free text, string labels
    words_good = "great lovely fast friendly perfect happy recommend excellent".split()
    words_bad = "slow broken rude awful late refund never disappointing".split()
    filler = "the delivery order service product was and it a very really item box staff".split()
    rows = []
    for _ in range(2400):
        good = rng.random() < 0.5
        pool = words_good if good else words_bad
        count = int(rng.integers(6, 30))
        words = [str(rng.choice(pool)) if rng.random() < 0.25 else str(rng.choice(filler)) for _ in range(count)]
        if rng.random() < 0.15:  # some reviews say the opposite of their label
            good = not good
        rows.append({"review": " ".join(words), "sentiment": "positive" if good else "negative"})
    frame = pd.DataFrame(rows)
    traffic, labels, reference, train = _split(frame, "sentiment", folder, "text")
    versions = []
    for c in (1.0, 0.05):
        pipe = Pipeline([("words", ColumnTransformer([("tfidf", TfidfVectorizer(), "review")])),
                         ("model", LogisticRegression(C=c, max_iter=500))]).fit(train[["review"]], train["sentiment"])
        versions.append((sk, {"sk_model": pipe, "pyfunc_predict_fn": "predict_proba",
                              "signature": infer_signature(train[["review"]], pipe.predict_proba(train[["review"]]))}))
    _register(mlflow, "zoo-text", versions)
    pairs["text"] = ZooPair("zoo-text", "classification", "sentiment", traffic, labels, reference)

    # a custom PythonModel (pickled by value with cloudpickle, as for any class of the user's)
    x, y = make_classification(2400, n_features=5, n_informative=3, random_state=3)
    frame = pd.DataFrame(x, columns=[f"v{i}" for i in range(5)]).assign(bought=y)
    traffic, labels, reference, train = _split(frame, "bought", folder, "custom")
    features, target = train.drop(columns=["bought"]), train["bought"]
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    custom = type("CustomModel", (LabelAndProbability, PythonModel), {})
    versions = []
    for estimator in (LogisticRegression(max_iter=500), LogisticRegression(C=0.001, max_iter=500)):
        model = custom(estimator.fit(features, target))
        versions.append((mlflow.pyfunc.log_model, {"python_model": model, "signature": infer_signature(
            features, model.predict(None, features)), "pip_requirements": ["scikit-learn==1.9.1", "pandas==3.1.1",
                                                                           "numpy==2.4.6", "cloudpickle==3.1.3"]}))
    _register(mlflow, "zoo-custom", versions)
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    pairs["custom"] = ZooPair("zoo-custom", "classification", "bought", traffic, labels, reference, needs_trust=True)

    # regressions, with and without a signature (the challenger is the better one)
    x = rng.normal(0, 1, (2400, 4))
    outcome = 30 + 8 * x[:, 0] - 5 * x[:, 1] ** 2 + 3 * x[:, 2] * x[:, 3] + rng.normal(0, 2, 2400)
    frame = pd.DataFrame(x, columns=["distance", "load", "hour", "traffic_index"]).assign(minutes=outcome)
    for name, signed in (("regression", True), ("nosignature", False)):
        traffic, labels, reference, train = _split(frame, "minutes", folder, name)
        features, target = train.drop(columns=["minutes"]), train["minutes"]
        versions = []
        for estimator in (LinearRegression(), GradientBoostingRegressor(random_state=0)):
            fitted = estimator.fit(features, target)
            versions.append((sk, {"sk_model": fitted, **({"signature": infer_signature(features, fitted.predict(
                features))} if signed else {}), **({"skops_trusted_types": TREES} if versions else {})}))
        _register(mlflow, f"zoo-{name}", versions)
        pairs[name] = ZooPair(f"zoo-{name}", "regression", "minutes", traffic, labels, reference)

    # an optional integer input that is sometimes missing
    x, y = make_classification(2400, n_features=3, n_informative=3, n_redundant=0, random_state=4)
    visits = rng.integers(0, 20, 2400).astype("float")
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(visits=visits, clicked=y)
    frame.loc[frame.sample(frac=0.1, random_state=1).index, "visits"] = np.nan
    traffic, labels, reference, train = _split(frame, "clicked", folder, "nullable")
    features = train.drop(columns=["clicked"]).fillna({"visits": 0})
    signature = infer_signature(features.astype({"visits": "int64"}))
    signature.inputs = Schema([ColSpec("double", "a"), ColSpec("double", "b"), ColSpec("double", "c"),
                               ColSpec("long", "visits", required=False)])
    versions = []
    for estimator in (LogisticRegression(max_iter=500), RandomForestClassifier(40, max_depth=5, random_state=0)):
        fitted = estimator.fit(features, train["clicked"])
        versions.append((sk, {"sk_model": fitted, "signature": signature,
                              **({"skops_trusted_types": TREES} if versions else {})}))
    _register(mlflow, "zoo-nullable", versions)
    pairs["nullable"] = ZooPair("zoo-nullable", "classification", "clicked", traffic, labels, reference,
                                label_only=True)
    return pairs
