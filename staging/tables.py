"""Reading Parquet tables without holding them twice.

`pd.read_parquet` builds the whole Arrow table and then converts it, so for a moment the
data sits in memory twice. `read_parquet_lean` reads and converts one column at a time and
assembles the frame without copying: peak memory stays close to the frame's own size,
which matters for runs of a million requests (see bench/drift.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def read_parquet_lean(path: str | Path, columns: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    parquet = pq.ParquetFile(path)
    names = list(columns) if columns is not None else parquet.schema_arrow.names
    pandas_metadata = parquet.schema_arrow.pandas_metadata or {}
    if any(isinstance(c, str) for c in pandas_metadata.get("index_columns", [])):
        return pd.read_parquet(path, columns=columns)  # a stored index: let pandas restore it
    data = {name: parquet.read(columns=[name], use_pandas_metadata=False).column(0).to_pandas() for name in names}
    return pd.DataFrame(data, copy=False)


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet or CSV file as a frame (Parquet read lean)."""
    path = str(path)
    return read_parquet_lean(path) if path.endswith(".parquet") else pd.read_csv(path)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


REFERENCE_SAMPLE = 2000  # rows of a training reference both models score before a replay


def reference_sample(reference: pd.DataFrame) -> pd.DataFrame:
    """The rows of a reference both models score (a fixed sample), in the order of their answers:
    prediction drift compares against them, and the estimate before labels calibrates on them."""
    return reference.sample(n=min(REFERENCE_SAMPLE, len(reference)), random_state=0)
