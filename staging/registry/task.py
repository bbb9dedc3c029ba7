"""What kind of model a registered version is (classification or regression), read from what
MLflow records about it, never assumed.

Asked in this order; the first that says wins, and the run records which one it was:

1. the user (`--task`, the Replay page's field);
2. a tag `sandbox.task` on the version, then on the registered model;
3. the model's class: a gradient-boosting flavour's `model_class` in `MLmodel` (XGBoost,
   LightGBM, CatBoost), or the scikit-learn estimators its pickle imports (the artifact scan
   lists them without loading anything), judged by scikit-learn's own registry of classifiers
   and regressors (`sklearn.utils.all_estimators`);
4. the signature's output: words, booleans or whole numbers are classes, several columns named
   like labels and probabilities are a classifier, one floating-point column is a regression
   unless the labels hold two values only;
5. the labels' own type: words and booleans are classes; whole numbers with few values
   (`FEW_CLASSES`) are classes; numbers with fractions or many values are a regression.

When none says, the task is "unknown" and the evidence decides from the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

CLASSIFICATION, REGRESSION, UNKNOWN = "classification", "regression", "unknown"
TASKS = (CLASSIFICATION, REGRESSION)
TAG = "sandbox.task"
FEW_CLASSES = 20


@dataclass(frozen=True)
class TaskReading:
    task: str  # classification, regression or unknown
    source: str  # what said so, in words

    @property
    def known(self) -> bool:
        return self.task in TASKS


NOT_SAID = TaskReading(UNKNOWN, "")


@lru_cache(maxsize=1)
def sklearn_estimator_kinds() -> dict[str, str]:
    """scikit-learn class name -> classification or regression, from its own registry."""
    from sklearn.utils import all_estimators

    kinds = {name: REGRESSION for name, _ in all_estimators(type_filter="regressor")}
    kinds.update({name: CLASSIFICATION for name, _ in all_estimators(type_filter="classifier")})
    return kinds


def from_tag(value: str | None, where: str) -> TaskReading:
    if value and value.strip().lower() in TASKS:
        return TaskReading(value.strip().lower(), f"the tag {TAG} on {where}")
    return NOT_SAID


def from_flavours(mlmodel: dict) -> TaskReading:
    """A boosting flavour's recorded class (XGBClassifier, LGBMRegressor, CatBoostClassifier…)."""
    for flavour in ("xgboost", "lightgbm", "catboost"):
        model_class = str((mlmodel.get("flavors", {}).get(flavour) or {}).get("model_class") or "")
        name = model_class.rsplit(".", 1)[-1]
        if "Classifier" in name:
            return TaskReading(CLASSIFICATION, f"the model's class, {name} ({flavour} flavour)")
        if "Regressor" in name:
            return TaskReading(REGRESSION, f"the model's class, {name} ({flavour} flavour)")
    return NOT_SAID


def from_pickled_classes(imports: list[tuple[str, str]]) -> TaskReading:
    """The scikit-learn estimators a model's pickle imports (module, name): classifiers only, or
    regressors only."""
    kinds = sklearn_estimator_kinds()
    found = {name: kinds[name] for module, name in imports if module.startswith("sklearn.") and name in kinds}
    said = set(found.values())
    if len(said) == 1:
        task = said.pop()
        names = ", ".join(sorted(found))
        return TaskReading(task, f"the model's class ({names}, a scikit-learn "
                                 f"{'classifier' if task == CLASSIFICATION else 'regressor'})")
    return NOT_SAID


def from_signature_outputs(outputs: list[dict], labels: pd.Series | None) -> TaskReading:
    """The signature's output schema (MLmodel's `signature.outputs`, as parsed JSON)."""
    if not outputs:
        return NOT_SAID
    names = [str(o.get("name") or "").lower() for o in outputs]
    if len(outputs) > 1 and any(n.startswith(("prob", "score")) or n in ("label", "class") for n in names):
        return TaskReading(CLASSIFICATION, "the signature's outputs (a label and probabilities)")
    first = outputs[0]
    if first.get("type") == "tensor":
        spec = first.get("tensor-spec") or {}
        shape, dtype = spec.get("shape") or [], str(spec.get("dtype") or "")
        if len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 1:
            return TaskReading(CLASSIFICATION, "the signature's output (one probability per class)")
        if len(shape) <= 1 or (len(shape) == 2 and shape[1] == 1):
            if dtype.startswith(("int", "uint", "bool", "str", "object")):
                return TaskReading(CLASSIFICATION, f"the signature's output type ({dtype})")
            if dtype.startswith("float") and not (labels is not None and labels.dropna().nunique() <= 2):
                return TaskReading(REGRESSION, f"the signature's output type ({dtype})")
        return NOT_SAID
    kind = str(first.get("type") or "")
    if kind in ("string", "boolean", "long", "integer"):
        return TaskReading(CLASSIFICATION, f"the signature's output type ({kind})")
    if kind in ("double", "float"):
        if labels is not None and labels.dropna().nunique() <= 2:
            return NOT_SAID  # 0.0/1.0 classes answered as floats: let the labels say
        return TaskReading(REGRESSION, f"the signature's output type ({kind})")
    return NOT_SAID


def from_labels(labels: pd.Series | None) -> TaskReading:
    if labels is None:
        return NOT_SAID
    values = labels.dropna()
    if values.empty:
        return NOT_SAID
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return TaskReading(CLASSIFICATION, "the labels (words or booleans)")
    numbers = values.to_numpy(float)
    whole = bool(np.all(np.isclose(numbers, np.round(numbers))))
    if whole and values.nunique() <= FEW_CLASSES:
        return TaskReading(CLASSIFICATION, f"the labels ({values.nunique()} whole-number values)")
    return TaskReading(REGRESSION, "the labels (numbers with " + ("fractions)" if not whole else "many values)"))


def read_mlmodel(model_dir: Path) -> dict:
    """The model's MLmodel file as a dict (its signature's outputs parsed), {} when unreadable."""
    import json

    import yaml

    try:
        mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text()) or {}
        outputs = (mlmodel.get("signature") or {}).get("outputs")
        if isinstance(outputs, str):
            mlmodel.setdefault("signature", {})["outputs"] = json.loads(outputs)
        return mlmodel
    except (OSError, ValueError, yaml.YAMLError):
        return {}


def read_task(*readings: TaskReading) -> TaskReading:
    """The first reading that says."""
    return next((r for r in readings if r.known), TaskReading(UNKNOWN, "nothing said (decided from the answers)"))


def model_task(mlmodel: dict, imports: list[tuple[str, str]], tags: list[tuple[str, str | None]],
               labels: pd.Series | None) -> TaskReading:
    """One model version's task from what MLflow records (`tags`: (where, sandbox.task value))."""
    outputs = (mlmodel.get("signature") or {}).get("outputs") or []
    return read_task(*(from_tag(value, where) for where, value in tags), from_flavours(mlmodel),
                     from_pickled_classes(imports), from_signature_outputs(outputs, labels), from_labels(labels))


def pair_task(readings: dict[str, TaskReading], override: str | None) -> TaskReading:
    """The run's task from both models' readings (and the user's word, which wins); two models
    that say different tasks cannot be compared."""
    from ..errors import ConfigurationError

    if override:
        if override not in TASKS:
            raise ConfigurationError(f"--task {override} is not a task.", hint=f"Choose {' or '.join(TASKS)}.")
        return TaskReading(override, "given by the user")
    known = {role: r for role, r in readings.items() if r.known}
    if len({r.task for r in known.values()}) > 1:
        said = "; ".join(f"the {role} is a {r.task} model ({r.source})" for role, r in known.items())
        raise ConfigurationError(f"The two models are not the same kind: {said}.",
                                 hint="Compare a model with another of its kind, or say which it is with --task (or "
                                      f"the tag {TAG} on the version that is wrong).")
    if not known:
        return read_task()
    role, reading = next(iter(known.items()))
    return TaskReading(reading.task, f"{reading.source}, read from the {role}")
