"""A run's answers made ready for the analytics: the task, a classifier's classes, and each
model's labels and class probabilities read against them.

The task is the manifest's (read from the model when the run began, see
`registry.task`); a manifest that could not tell ("unknown") is decided here from the
answers, and the evidence says so. For a classifier the stored `score` column is never used
as it was stored: a model answering labels only has no score (its `score` would be the label
itself), so scores are re-read from the answers' probabilities, the positive class's for two
classes, and are NaN where there are none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analytics.classes import ClassSpace, parse_probabilities
from ..roles import CHALLENGER, CHAMPION

ROLES = (CHAMPION, CHALLENGER)
FEW_CLASSES = 20  # integer answers with at most this many values are classes, not quantities


@dataclass(frozen=True)
class ReadAnswers:
    """The answers of one run, re-read for its task."""

    task: str
    task_source: str
    pairs: pd.DataFrame  # as `compare.paired`, with labels filled and scores re-read (classifiers)
    results: pd.DataFrame  # every answer, likewise (canary and A/B runs are judged on these)
    space: ClassSpace | None = None
    pair_proba: dict | None = None  # role -> n x classes, aligned with `pairs` (None: labels only)
    result_proba: np.ndarray | None = None  # aligned with `results` (None when any answer lacks them)
    why_no_probabilities: str = ""


def task_from_answers(results: pd.DataFrame) -> str:
    """Classification when the answers carry probabilities or are words or a few whole
    numbers; regression when they are numbers with fractions or many distinct values."""
    answered = results[results["status"].eq(200)]
    if answered["probabilities"].fillna("").astype(str).str.len().gt(0).any():
        return "classification"
    numbers = pd.to_numeric(answered["prediction"], errors="coerce")
    if answered.empty or numbers.isna().any():
        return "classification"
    whole = np.all(np.isclose(numbers, np.round(numbers)))
    return "classification" if whole and numbers.nunique() <= FEW_CLASSES else "regression"


def read_answers(task: str, task_source: str, results: pd.DataFrame, pairs: pd.DataFrame,
                 truth: pd.Series | None) -> ReadAnswers:
    """The run's answers re-read for its task (`truth`: the labels that arrived, if any)."""
    results = results.reset_index(drop=True)
    pairs = pairs.reset_index(drop=True)
    if task not in ("classification", "regression"):
        task, task_source = task_from_answers(results), "decided from the models' answers (the model did not say)"
    if task == "regression":
        return ReadAnswers(task, task_source, pairs, results)
    rows = {role: parse_probabilities(pairs[f"{role}_probabilities"]) for role in ROLES}
    result_rows = parse_probabilities(results["probabilities"])
    space = ClassSpace.of(truth, [pairs[f"{role}_prediction"] for role in ROLES] + [results["prediction"]],
                          [rows[role] for role in ROLES] + [result_rows])
    pair_proba, why = {}, ""
    for role in ROLES:
        matrix, reason = space.matrix(rows[role])
        pair_proba[role] = matrix
        why = why or reason
        pairs[f"{role}_prediction"] = space.fill_labels(pairs[f"{role}_prediction"], matrix).where(
            pairs[f"{role}_prediction"].notna() | _has(rows[role]))
        score = space.positive_score(matrix)
        pairs[f"{role}_score"] = score if score is not None else np.nan
    result_proba, reason = space.matrix(result_rows)
    results["prediction"] = space.fill_labels(results["prediction"], result_proba).where(
        results["prediction"].notna() | _has(result_rows))
    score = space.positive_score(result_proba)
    results["score"] = score if score is not None else np.nan
    if result_proba is not None and np.isnan(result_proba[results["status"].eq(200).to_numpy()]).any():
        result_proba, reason = None, "not available: one of the models answers labels only"
    return ReadAnswers(task, task_source, pairs, results, space, pair_proba, result_proba, why or reason)


def _has(rows: list[dict | None]) -> pd.Series:
    return pd.Series([bool(row) for row in rows])


def reread_reference_scores(reference_scores: pd.DataFrame | None, space: ClassSpace | None) -> pd.DataFrame | None:
    """A classifier's answers on the training reference with the same reading: a score only
    from probabilities."""
    if reference_scores is None or space is None:
        return reference_scores
    frame = reference_scores.reset_index(drop=True).copy()
    texts = frame["probabilities"] if "probabilities" in frame else pd.Series([""] * len(frame))
    matrix, _ = space.matrix(parse_probabilities(texts))
    frame["prediction"] = space.fill_labels(frame["prediction"], matrix)
    score = space.positive_score(matrix)
    frame["score"] = score if score is not None else np.nan
    return frame
