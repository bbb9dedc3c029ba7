"""Request bodies as the replay sends them: MLflow `dataframe_split` JSON, one row per
request, or many in batch mode and for a log's multi-row requests. Built once, before
the timed replay, a chunk of rows at a time. When a model speaks V2, each body is a pair
(`{"mlflow": …, "v2": …}`): the same rows in both protocols, so each model gets its own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..serving.protocols import MLFLOW, V2, V2Encoder


def request_bodies(requests: pd.DataFrame, features: tuple[str, ...]) -> list[bytes]:
    """One `dataframe_split` body per recorded request, NaN sent as null."""
    return request_units(requests, features)[1]


BODY_CHUNK = 20_000  # rows turned into Python values at a time, so a million never are at once


def request_units(requests: pd.DataFrame, features: tuple[str, ...], batch_size: int = 1,
                  v2: V2Encoder | None = None) -> tuple[list, list, np.ndarray]:
    """The requests as sent: (request ids of each, bodies, index of each one's first row).
    One row per request (its id a plain string), except in batch mode (`batch_size` rows each)
    and for the multi-row requests of a request log (rows sharing `_request`), which keep their
    recorded grouping (their ids a list). With a V2 encoder, each body is a dict by protocol."""
    columns = list(features)
    ids = requests["request_id"].astype(str).tolist()

    def encode(rows: list) -> bytes | dict[str, bytes]:
        mlflow = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}, default=_plain).encode()
        return mlflow if v2 is None else {MLFLOW: mlflow, V2: v2.body(rows)}

    if batch_size > 1:
        starts = np.arange(0, len(ids), batch_size)
    elif "_request" in requests.columns and requests["_request"].notna().any():
        group = requests["_request"].to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]])) if len(group) else np.array([])
    else:
        bodies = []
        for start in range(0, len(ids), BODY_CHUNK):
            part = requests[columns].iloc[start:start + BODY_CHUNK]
            for row in part.astype(object).where(part.notna(), None).itertuples(index=False, name=None):
                bodies.append(encode([row]))
        return ids, bodies, np.arange(len(ids))
    ends = np.append(starts[1:], len(ids)).astype(int)
    bodies = []
    for a, b in zip(starts, ends):
        part = requests[columns].iloc[a:b]
        bodies.append(encode(list(part.astype(object).where(part.notna(), None).itertuples(index=False, name=None))))
    return [ids[a:b] for a, b in zip(starts, ends)], bodies, starts.astype(int)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
