"""A model's explained output, computed by its served endpoint: masked rows go out as ordinary
scoring requests, in batches, and its answers are read back as one number per output.

What is explained (`OutputReader`): a regression's prediction; a classifier's probability of
the positive class (two classes) or of every class (more), on the probability or the log-odds
scale; for a classifier that answers labels only, its answer as a 0/1 vote per class, and the
explanation says so. `ServedOutput` is the function shap calls: it counts the requests and rows
it sends, and stops (raising `Stopped`) when cancelled or past the deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import requests

from ..analytics.classes import ClassSpace
from ..errors import BackendError
from ..serving.endpoint import Endpoint
from ..serving.predictions import Prediction, parse_predictions
from ..serving.protocols import V2, V2Encoder
from .coding import RowCoder
from .settings import LOG_ODDS

ROWS_PER_REQUEST = 4_000
CLIP = 1e-6


class Stopped(Exception):
    """The explanation was cancelled or ran out of time; the rows done are kept."""


@dataclass(frozen=True)
class OutputReader:
    """Answers -> one column per explained output."""

    kind: str  # "prediction", "probability" or "vote"
    names: tuple[str, ...]  # what each output is, in words
    columns: tuple[int, ...] = ()  # classifiers: which classes of `space`
    space: ClassSpace | None = None
    scale: str = "probability"

    @classmethod
    def for_model(cls, task: str, space: ClassSpace | None, has_probabilities: bool, scale: str,
                  target: str | None) -> OutputReader:
        if task == "regression" or space is None:
            return cls("prediction", ("the prediction",))
        subject = target or "class"
        columns = ((space.classes.index(space.positive),) if space.binary and space.positive is not None
                   else tuple(range(len(space.classes))))
        if not has_probabilities:
            return cls("vote", tuple(f"a vote for {subject} = {space.classes[j]} (the model answers labels only)"
                                     for j in columns), columns, space)
        wrap = ("log-odds of {}" if scale == LOG_ODDS else "P({})")
        return cls("probability", tuple(wrap.format(f"{subject} = {space.classes[j]}") for j in columns),
                   columns, space, scale)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.space.classes[j] for j in self.columns) if self.space is not None else ()

    def __call__(self, answers: list[Prediction]) -> np.ndarray:
        if self.kind == "prediction":
            return np.array([[_number(a.label, a.score)] for a in answers])
        assert self.space is not None
        if self.kind == "vote":
            index = {c: i for i, c in enumerate(self.space.classes)}
            out = np.zeros((len(answers), len(self.space.classes)))
            for i, answer in enumerate(answers):
                j = index.get(self.space.renamed.get(answer.label, answer.label))
                if j is not None:
                    out[i, j] = 1.0
            return out[:, list(self.columns)]
        matrix, why = self.space.matrix([a.probabilities for a in answers])
        if matrix is None or np.isnan(matrix).any():
            raise BackendError(f"A masked request's answer had no probability for every class ({why or 'missing'}).",
                               hint="Explain on votes: the model does not always answer probabilities.")
        chosen = matrix[:, list(self.columns)]
        if self.scale == LOG_ODDS:
            clipped = np.clip(chosen, CLIP, 1 - CLIP)
            return np.log(clipped / (1 - clipped))
        return chosen


def _number(label: str, score: float) -> float:
    if np.isfinite(score):
        return float(score)
    try:
        return float(label)
    except (TypeError, ValueError):
        return float("nan")


class ServedOutput:
    """The function shap evaluates: coded rows -> the endpoint's explained outputs."""

    def __init__(self, endpoint: Endpoint, coder: RowCoder, read: OutputReader, v2: V2Encoder | None,
                 should_stop: Callable[[], bool], deadline: float, score_column: str | None = None) -> None:
        self.endpoint, self.coder, self.read, self.v2 = endpoint, coder, read, v2
        self.should_stop, self.deadline, self.score_column = should_stop, deadline, score_column
        self.requests_sent = 0
        self.rows_sent = 0
        self.session = requests.Session()

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        parts = [self._score(codes[start:start + ROWS_PER_REQUEST])
                 for start in range(0, len(codes), ROWS_PER_REQUEST)]
        out = np.vstack(parts)
        return out[:, 0] if out.shape[1] == 1 else out

    def _score(self, codes: np.ndarray) -> np.ndarray:
        if self.should_stop() or time.monotonic() > self.deadline:
            raise Stopped()
        rows = self.coder.rows(codes)
        if self.endpoint.protocol == V2 and self.v2 is not None:
            body = self.v2.body(rows)
        else:
            body = json.dumps({"dataframe_split": {"columns": list(self.coder.columns), "data": rows}}).encode()
        self.requests_sent += 1
        self.rows_sent += len(rows)
        try:
            response = self.session.post(self.endpoint.invocations_url, data=body, headers=self.endpoint.headers,
                                         allow_redirects=False, timeout=120)
        except requests.RequestException as exc:
            raise BackendError(f"The {self.endpoint.role} model at {self.endpoint.url} could not be reached while "
                               f"explaining: {exc}", hint="Check that its server is still running.") from exc
        if response.status_code != 200:
            raise BackendError(f"The {self.endpoint.role} model refused a masked request (HTTP "
                               f"{response.status_code}): {response.text[:300]}",
                               hint="Its answer is in the explanation's log; the rows explained so far are kept.")
        answers = parse_predictions(self.endpoint.answer(response.json()), self.score_column)
        if len(answers) != len(rows):
            raise BackendError(f"The {self.endpoint.role} model answered {len(answers)} rows for {len(rows)}.")
        return self.read(answers)
