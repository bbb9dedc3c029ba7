"""Turn a scoring server's answer into one label, score and probabilities per row.

Models answer in many shapes; every one below is accepted:

- labels or values:           {"predictions": [0, 1, 1]}  or  [12.5, 8.1]
- probability lists:          {"predictions": [[0.9, 0.1], [0.3, 0.7]]}
- DataFrame records:          {"predictions": [{"label": 1, "probability_0": .3, "probability_1": .7}]}
- DataFrame columns:          {"predictions": {"label": [1], "probability_1": [.7]}}

`score` is the value for a regression and the probability of the highest-sorting class
(the positive class, `1`, for 0/1 labels) for a classifier; NaN when the model gives none.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

LABEL_KEYS = ("label", "prediction", "predicted_label", "predictions", "class", "output", "value")
PROBABILITY_PREFIXES = ("probability_", "proba_", "prob_")


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float = math.nan
    probabilities: dict[str, float] | None = None

    def probabilities_json(self) -> str:
        return json.dumps(self.probabilities) if self.probabilities else ""


class PredictionFormatError(ValueError):
    """The answer is valid JSON but in no shape listed in the module docstring."""


def parse_predictions(body) -> list[Prediction]:
    """One Prediction per row of a scoring server's JSON answer (already decoded)."""
    payload = body.get("predictions", body) if isinstance(body, dict) else body
    if isinstance(payload, dict):
        payload = _columns_to_records(payload)
    if not isinstance(payload, list):
        payload = [payload]
    return [_one(item) for item in payload]


def _columns_to_records(columns: dict) -> list[dict]:
    lengths = {len(v) for v in columns.values() if isinstance(v, list)}
    if len(lengths) != 1 or len(columns) != sum(isinstance(v, list) for v in columns.values()):
        raise PredictionFormatError(f"a dict of columns of unequal length: {list(columns)[:5]}")
    n = lengths.pop()
    return [{key: values[i] for key, values in columns.items()} for i in range(n)]


def _one(item) -> Prediction:
    if isinstance(item, dict):
        return _from_record(item)
    if isinstance(item, list):
        if item and all(isinstance(v, (int, float)) for v in item):
            if len(item) == 1:
                return _scalar(item[0])
            return _from_probabilities({str(i): float(p) for i, p in enumerate(item)})
        raise PredictionFormatError(f"a list that is not a probability vector: {str(item)[:80]}")
    return _scalar(item)


def _scalar(value) -> Prediction:
    if isinstance(value, bool) or value is None:
        return Prediction(label=str(value))
    if isinstance(value, (int, float)):
        return Prediction(label=_label_text(value), score=float(value))
    return Prediction(label=str(value))


def _from_record(record: dict) -> Prediction:
    probabilities = {}
    for key, value in record.items():
        for prefix in PROBABILITY_PREFIXES:
            if key.startswith(prefix) and isinstance(value, (int, float)):
                probabilities[key[len(prefix):]] = float(value)
    label_key = next((k for k in LABEL_KEYS if k in record), None)
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


def parse_prediction_columns(body, rows: int) -> tuple[list[str], list[float], list[str]]:
    """(labels, scores, probability JSON strings) for an answer of `rows` rows: the same values
    as `parse_predictions`, computed a column at a time for the usual batch shape (records
    with a label and probability columns), so a batch of thousands costs no Python per row."""
    payload = body.get("predictions", body) if isinstance(body, dict) else body
    if isinstance(payload, list) and len(payload) == rows and rows > 1 and isinstance(payload[0], dict):
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
    predictions = parse_predictions(body)
    return ([p.label for p in predictions], [p.score for p in predictions],
            [p.probabilities_json() for p in predictions])
