"""A classifier run's classes, and each model's class probabilities read from its answers.

Labels arrive as whatever the model and the labels file hold (integers, strings, booleans);
they are compared as text (`label_text`: 1.0 and 1 are "1"). The classes are the union of
the labels, the models' answers and the names of their probability columns, sorted as
numbers where they are numbers ("2" before "10"), else as text.

A model's probabilities come from its answers (`serving.predictions`): one per class, a
per-class list named by position ("0", "1", …), or a single positive-class score kept under
`POSITIVE_ONLY`. Position names are mapped onto the classes in sorted order (as
scikit-learn's `classes_` are sorted) when the labels name other classes. A single score is
the probability of the class whose answers it is higher on. A model that answers labels only
has no probability matrix: every figure that needs one says so instead of being computed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

POSITIVE_ONLY = "*"  # written by `serving.predictions` for a single positive-class score column
LABELS_ONLY = "not available: the model answers labels only"
ONE_SCORE_MULTICLASS = "not available: the model answers one score, not one probability per class"


def label_text(values: pd.Series) -> pd.Series:
    """Labels as the same text the prediction parser produces (1.0 -> '1', True -> 'True')."""
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return values.map(one)


def sort_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def parse_probabilities(texts: pd.Series) -> list[dict | None]:
    """Each answer's probabilities (class -> probability), None where the answer had none."""
    cache: dict[str, dict | None] = {}
    out = []
    for text in texts.fillna("").astype(str):
        if text not in cache:
            cache[text] = json.loads(text) if text else None
        out.append(cache[text])
    return out


@dataclass(frozen=True)
class ClassSpace:
    """The classes of one run, its positive class when it has two, and how answers name them."""

    classes: tuple[str, ...]
    positive: str | None = None  # binary runs: the class ROC AUC and the positive-class figures are about
    renamed: dict[str, str] = field(default_factory=dict)  # probability column name -> class (position names)

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @classmethod
    def of(cls, truth: pd.Series | None, predictions: list[pd.Series],
           probabilities: list[list[dict | None]]) -> ClassSpace:
        """The classes seen in the labels, the answers and the probability names."""
        truth_classes = set(label_text(truth.dropna()).unique()) if truth is not None else set()
        keys: set[str] = set()
        for rows in probabilities:
            for row in rows:
                if row:
                    keys |= set(row) - {POSITIVE_ONLY}
        positions = {str(i) for i in range(len(keys))}
        renamed = {}
        if keys and keys == positions and len(truth_classes) == len(keys) and not truth_classes & positions:
            renamed = dict(zip(sorted(positions, key=sort_key), sorted(truth_classes, key=sort_key)))
        seen = set(truth_classes)
        for predicted in predictions:
            seen |= {renamed.get(p, p) for p in predicted.dropna().astype(str).unique()
                     if p not in ("", "None", "nan")}
        classes = tuple(sorted(seen | {renamed.get(k, k) for k in keys}, key=sort_key))
        space = cls(classes, None, renamed)
        if len(classes) == 2:
            space = cls(classes, space._positive(predictions, probabilities), renamed)
        return space

    def _positive(self, predictions: list[pd.Series], probabilities: list[list[dict | None]]) -> str:
        """1 of 0/1, True of False; else the class a single score column is higher on; else the
        highest-sorting class."""
        for usual in (("0", "1"), ("False", "True"), ("false", "true"), ("-1", "1")):
            if set(self.classes) == set(usual):
                return usual[1]
        means: dict[str, list[float]] = {c: [] for c in self.classes}
        for predicted, rows in zip(predictions, probabilities):
            for label, row in zip(predicted.astype(str), rows):
                if row and POSITIVE_ONLY in row and label in means:
                    means[label].append(float(row[POSITIVE_ONLY]))
        if all(means.values()):
            return max(self.classes, key=lambda c: float(np.mean(means[c])))
        return self.classes[-1]

    def index(self, labels: pd.Series) -> np.ndarray:
        """Each label's position among the classes (-1 for a label not among them)."""
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup.get(v, -1) for v in labels.astype(str)], dtype=np.int64)

    def matrix(self, rows: list[dict | None]) -> tuple[np.ndarray | None, str]:
        """(n x classes probabilities, "") — or (None, why not) when the answers hold no
        probability for every class. Rows without probabilities are NaN."""
        if not rows or not any(rows):
            return None, LABELS_ONLY
        k = len(self.classes)
        out = np.full((len(rows), k), np.nan)
        column = {c: i for i, c in enumerate(self.classes)}
        for i, row in enumerate(rows):
            if not row:
                continue
            if POSITIVE_ONLY in row:
                if not self.binary or self.positive is None:
                    return None, ONE_SCORE_MULTICLASS
                p = float(row[POSITIVE_ONLY])
                out[i, column[self.positive]] = p
                out[i, 1 - column[self.positive]] = 1 - p
                continue
            for name, p in row.items():
                j = column.get(self.renamed.get(name, name))
                if j is not None:
                    out[i, j] = float(p)
            out[i, np.isnan(out[i])] = 0.0  # a class the answer does not name has probability 0
        return out, ""

    def positive_score(self, matrix: np.ndarray | None) -> np.ndarray | None:
        """The positive class's probability per row (binary), or None."""
        if matrix is None or self.positive is None:
            return None
        return matrix[:, self.classes.index(self.positive)]

    def fill_labels(self, predicted: pd.Series, matrix: np.ndarray | None) -> pd.Series:
        """The answers' labels as classes: position names mapped, and an answer with a score
        and no label given the most probable class."""
        predicted = predicted.where(predicted.isna(), predicted.astype(str).replace(self.renamed)) if self.renamed \
            else predicted
        missing = predicted.isna() | predicted.astype(str).isin(["", "None"])
        if matrix is None or not missing.any():
            return predicted.astype(str)
        filled = predicted.astype(object).copy()
        rows = np.flatnonzero(missing.to_numpy() & ~np.isnan(matrix).any(axis=1))
        filled.iloc[rows] = [self.classes[j] for j in np.nanargmax(matrix[rows], axis=1)]
        return filled.astype(str)
