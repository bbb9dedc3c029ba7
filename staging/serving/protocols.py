"""The two wire protocols a model server may speak, as plain functions: MLflow's scoring
protocol (`POST /invocations` with `dataframe_split`) and the Open Inference Protocol (V2:
KServe, Seldon Core v2, Triton, MLServer), where a model lives at `/v2/models/NAME`.

An endpoint's protocol follows from its URL: a base URL in KServe's form
(`http://HOST/v2/models/NAME`) speaks V2, any other speaks MLflow's. A V2 request carries one
named input per column, shaped [n, 1], with its V2 datatype and, where the model's metadata
gives one, its `content_type`; the request as a whole says `content_type: pd`, so MLServer's
MLflow runtime decodes it into the DataFrame `mlflow models serve` would have built. V2
answers are named output tensors; `v2_predictions` turns them into the records the answer
parser already reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

MLFLOW, V2 = "mlflow", "v2"
V2_MODEL_PATH = re.compile(r"^/v2/models/(?P<name>[A-Za-z0-9_.\-]+)(?:/versions/(?P<version>[A-Za-z0-9_.\-]+))?$")


def protocol_of(url: str) -> str:
    """V2 for a URL in KServe's form (`…/v2/models/NAME`, optionally `/versions/V`), else MLflow."""
    return V2 if V2_MODEL_PATH.match(urlsplit(url).path.rstrip("/")) else MLFLOW


@dataclass(frozen=True)
class V2Tensor:
    """One input or output of a V2 model's metadata."""

    name: str
    datatype: str
    content_type: str | None = None

    @classmethod
    def from_metadata(cls, spec: dict) -> V2Tensor:
        parameters = spec.get("parameters") or {}
        return cls(str(spec["name"]), str(spec.get("datatype", "BYTES")), parameters.get("content_type"))


def metadata_inputs(metadata: dict) -> tuple[V2Tensor, ...]:
    return tuple(V2Tensor.from_metadata(spec) for spec in metadata.get("inputs") or [])


def v2_datatype(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOL"
    if pd.api.types.is_integer_dtype(series):
        return "INT64"
    if pd.api.types.is_float_dtype(series):
        return "FP64"
    return "BYTES"


def _cell(value: Any, datatype: str) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if datatype == "BYTES":
        return str(value)
    return value


@dataclass(frozen=True)
class V2Encoder:
    """How each column of a traffic table goes over V2: its datatype and content type, from the
    model's metadata where there is one, else from the column's dtype. Made once per run."""

    columns: tuple[str, ...]
    datatypes: tuple[str, ...]
    content_types: tuple[str | None, ...]

    @classmethod
    def for_frame(cls, frame: pd.DataFrame, columns: Sequence[str],
                  inputs: dict[str, V2Tensor] | None = None) -> V2Encoder:
        datatypes, content_types = [], []
        for column in columns:
            spec = (inputs or {}).get(column)
            datatype = spec.datatype if spec is not None else v2_datatype(frame[column])
            datatypes.append(datatype)
            content_types.append(spec.content_type if spec is not None and spec.content_type else
                                 ("str" if datatype == "BYTES" else "np"))
        return cls(tuple(columns), tuple(datatypes), tuple(content_types))

    def body(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """One request for `rows` (tuples in `columns` order; missing values as None)."""
        tensors = []
        for i, (name, datatype, content_type) in enumerate(zip(self.columns, self.datatypes, self.content_types,
                                                              strict=True)):
            tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [len(rows), 1],
                                      "data": [_cell(row[i], datatype) for row in rows]}
            if content_type:
                tensor["parameters"] = {"content_type": content_type}
            tensors.append(tensor)
        return json.dumps({"inputs": tensors, "parameters": {"content_type": "pd"}}).encode()


def v2_body(frame: pd.DataFrame, columns: Sequence[str], inputs: dict[str, V2Tensor] | None = None) -> bytes:
    """One V2 inference request for the rows of `frame` (missing values sent as null)."""
    part = frame[list(columns)]
    rows = list(part.astype(object).where(part.notna(), None).itertuples(index=False, name=None))
    return V2Encoder.for_frame(frame, columns, inputs).body(rows)


def v2_predictions(answer: Any) -> Any:
    """A V2 answer's outputs as MLflow-style predictions: one output, its values; several (a
    label and probability columns, say), one record per row keyed by output name."""
    if not isinstance(answer, dict) or not isinstance(answer.get("outputs"), list):
        raise ValueError("not a V2 answer: no 'outputs' list")
    outputs = answer["outputs"]
    columns: dict[str, list] = {}
    for output in outputs:
        if not isinstance(output, dict) or "data" not in output:
            raise ValueError("a V2 output without 'data'")
        data = output["data"]
        shape = output.get("shape") or [len(data)]
        if len(shape) > 1 and shape[-1] not in (1, -1) and shape[0] * shape[-1] == len(data):
            data = [data[i * shape[-1]:(i + 1) * shape[-1]] for i in range(shape[0])]
        columns[str(output.get("name", f"output_{len(columns)}"))] = data
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError("V2 outputs of different lengths")
    rows = lengths.pop()
    return {"predictions": [{name: values[i] for name, values in columns.items()} for i in range(rows)]}


def metadata_mismatch(columns: Sequence[str], inputs: Sequence[V2Tensor]) -> tuple[list[str], list[str]]:
    """(inputs the model needs that the traffic lacks, traffic columns the model does not know)."""
    wanted = [tensor.name for tensor in inputs]
    return [name for name in wanted if name not in columns], [c for c in columns if c not in wanted]


# a V2 datatype as the MLflow type name the traffic validation checks values against
V2_TO_MLFLOW_TYPE = {"FP64": "double", "FP32": "float", "FP16": "float", "INT64": "long", "INT32": "integer",
                     "INT16": "integer", "INT8": "integer", "UINT64": "long", "UINT32": "long", "UINT16": "integer",
                     "UINT8": "integer", "BOOL": "boolean", "BYTES": "string"}


def mlflow_type(datatype: str) -> str:
    return V2_TO_MLFLOW_TYPE.get(datatype.upper(), "string")
