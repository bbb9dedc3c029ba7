"""Turn a scoring server's answer into one label, score and probabilities per row.

Models answer in many shapes; every one below is accepted:

- labels or values:           {"predictions": [0, 1, 1]}  or  [12.5, 8.1]
- probability lists:          {"predictions": [[0.9, 0.1], [0.3, 0.7]]}
- DataFrame records:          {"predictions": [{"label": 1, "probability_0": .3, "probability_1": .7}]}
- DataFrame columns:          {"predictions": {"label": [1], "probability_1": [.7]}}
- one positive-class score:   {"predictions": [{"label": "spam", "probability": 0.93}]}
                              (a `probability`, `proba` or `score` column, or the column the
                              user names with `--score-column`)
- a per-class list or dict:   [{"label": 2, "probabilities": [0.1, 0.2, 0.7]}]  or  [{"cat": .2, "dog": .8}]

`probabilities` maps each class to its probability. A per-class list names its classes by
position ("0", "1", ...); the evidence maps them onto the labels' classes. A single
positive-class score is kept under `POSITIVE_ONLY` ("*"): which class it is the probability of
is decided by the evidence, from the answers and the labels, not here.

`score` is the value for a numeric answer (a regression's prediction) and, for a classifier,
the probability of the highest-sorting class (the positive class, `1`, for 0/1 labels); NaN
when the model gives none. A classifier's score is read only from `probabilities`: a label is
never a score (`evidence` ignores `score` for classifiers answering labels only).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

LABEL_KEYS = ("label", "prediction", "predicted_label", "predictions", "class", "output", "value")
PROBABILITY_PREFIXES = ("probability_", "proba_", "prob_")
SCORE_KEYS = ("probability", "proba", "score", "probabilities", "scores", "predict_proba")
POSITIVE_ONLY = "*"  # the class a single score column is the probability of, decided by the evidence


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float = math.nan
    probabilities: dict[str, float] | None = None

    def probabilities_json(self) -> str:
        return json.dumps(self.probabilities) if self.probabilities else ""


class PredictionFormatError(ValueError):
    """The answer is valid JSON but in no shape listed in the module docstring."""


def parse_predictions(body, score_column: str | None = None) -> list[Prediction]:
    """One Prediction per row of a scoring server's JSON answer (already decoded)."""
    payload = body.get("predictions", body) if isinstance(body, dict) else body
    if isinstance(payload, dict):
        payload = _columns_to_records(payload)
    if not isinstance(payload, list):
        payload = [payload]
    return [_one(item, score_column) for item in payload]


def _columns_to_records(columns: dict) -> list[dict]:
    lengths = {len(v) for v in columns.values() if isinstance(v, list)}
    if len(lengths) != 1 or len(columns) != sum(isinstance(v, list) for v in columns.values()):
        raise PredictionFormatError(f"a dict of columns of unequal length: {list(columns)[:5]}")
    n = lengths.pop()
    return [{key: values[i] for key, values in columns.items()} for i in range(n)]


def _one(item, score_column: str | None = None) -> Prediction:
    if isinstance(item, dict):
        return _from_record(item, score_column)
    if isinstance(item, list):
        if item and all(_is_number(v) for v in item):
            if len(item) == 1:
                return _scalar(item[0])
            return _from_probabilities({str(i): float(p) for i, p in enumerate(item)})
        raise PredictionFormatError(f"a list that is not a probability vector: {str(item)[:80]}")
    return _scalar(item)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _class_probabilities(value) -> dict[str, float] | None:
    """A per-class list ([0.1, 0.9]) or dict ({"cat": 0.1, "dog": 0.9}) of probabilities."""
    if isinstance(value, list) and len(value) > 1 and all(_is_number(v) for v in value):
        return {str(i): float(p) for i, p in enumerate(value)}
    if isinstance(value, dict) and len(value) > 1 and all(_is_number(v) for v in value.values()):
        return {_label_text(k): float(v) for k, v in value.items()}
    return None


def _looks_like_probabilities(record: dict) -> bool:
    """A record of two or more numbers between 0 and 1 that add up to 1: one per class."""
    values = list(record.values())
    return (len(values) > 1 and all(_is_number(v) and 0 <= v <= 1 for v in values)
            and abs(sum(values) - 1) < 1e-3)


def _scalar(value) -> Prediction:
    if isinstance(value, bool) or value is None:
        return Prediction(label=str(value))
    if isinstance(value, (int, float)):
        return Prediction(label=_label_text(value), score=float(value))
    return Prediction(label=str(value))


def _from_record(record: dict, score_column: str | None = None) -> Prediction:
    probabilities: dict[str, float] = {}
    for key, value in record.items():
        for prefix in PROBABILITY_PREFIXES:
            if key.startswith(prefix) and _is_number(value):
                probabilities[key[len(prefix):]] = float(value)
    label_key = next((k for k in LABEL_KEYS if k in record), None)
    score_key = next((k for k in ((score_column,) if score_column else SCORE_KEYS) if k in record), None)
    if score_column and score_key is None:
        raise PredictionFormatError(f"no column '{score_column}' (the score column asked for) in the answer: "
                                    f"{sorted(record)[:6]}")
    if not probabilities and score_key is not None:
        value = record[score_key]
        if _is_number(value):
            probabilities = {POSITIVE_ONLY: float(value)}
        else:
            probabilities = _class_probabilities(value) or {}
    if not probabilities and label_key is None and _looks_like_probabilities(record):
        probabilities = {_label_text(k): float(v) for k, v in record.items()}
    if probabilities and POSITIVE_ONLY in probabilities:
        label = _label_text(record[label_key]) if label_key is not None else ""
        return Prediction(label, probabilities[POSITIVE_ONLY], probabilities)
    if probabilities:
        parsed = _from_probabilities(probabilities)
        if label_key is not None:
            return Prediction(_label_text(record[label_key]), parsed.score, probabilities)
        return parsed
    if label_key is not None:
        return _scalar(record[label_key])
    if len(record) == 1:
        return _scalar(next(iter(record.values())))
    raise PredictionFormatError(f"a record with no label or probability columns: {sorted(record)[:6]}")


def _from_probabilities(probabilities: dict[str, float]) -> Prediction:
    label = max(probabilities, key=lambda name: probabilities[name])
    positive = max(probabilities, key=_sort_key)
    return Prediction(label=label, score=probabilities[positive], probabilities=probabilities)


def _sort_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_prediction_columns(body, rows: int, score_column: str | None = None) -> tuple[list[str], list[float], list[str]]:
    """(labels, scores, probability JSON strings) for an answer of `rows` rows: the same values
    as `parse_predictions`, computed a column at a time for the usual batch shape (records
    with a label and probability columns), so a batch of thousands costs no Python per row."""
    payload = body.get("predictions", body) if isinstance(body, dict) else body
    if (isinstance(payload, list) and len(payload) == rows and rows > 1 and isinstance(payload[0], dict)
            and score_column is None and not any(key in payload[0] for key in SCORE_KEYS)):
        frame = pd.DataFrame(payload)
        columns = {c: c[len(p):] for c in frame.columns for p in PROBABILITY_PREFIXES if c.startswith(p)}
        label_key = next((k for k in LABEL_KEYS if k in frame.columns), None)
        numeric = all(pd.api.types.is_numeric_dtype(frame[c]) for c in columns)
        if columns and numeric and not frame[list(columns)].isna().any().any():
            probabilities = frame[list(columns)].astype(float)
            classes = list(columns.values())
            positive = list(columns)[classes.index(max(classes, key=_sort_key))]
            labels = (frame[label_key].map(_label_text) if label_key is not None else
                      pd.Series(classes, dtype=object).iloc[probabilities.to_numpy().argmax(axis=1)].reset_index(
                          drop=True))
            text = pd.Series("{", index=frame.index)
            for i, (column, name) in enumerate(columns.items()):
                text = text + ("" if i == 0 else ", ") + json.dumps(name) + ": " + probabilities[column].map(repr)
            return labels.astype(str).tolist(), probabilities[positive].tolist(), (text + "}").tolist()
    predictions = parse_predictions(body, score_column)
    return ([p.label for p in predictions], [p.score for p in predictions],
            [p.probabilities_json() for p in predictions])
