"""The results journal: the one module that knows its format.

A run's answers are appended to `results.jsonl` as they arrive, one JSON object a line,
flushed at once, so a crash loses nothing answered. A single answer is one row
(`RESULT_COLUMNS`); a batch answer is one line holding what its rows share plus
`"_columns"`, a list per column. Here the journal is written (`JournalWriter`), read
whole (`read_journal`), followed while it grows (`JournalTail`), and compacted into
Parquet a chunk at a time (`compact_journal`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RESULT_COLUMNS = ["run_id", "request_id", "target", "intended_send", "actual_send", "latency_ms", "service_ms",
                  "status", "prediction", "score", "probabilities", "error"]
BATCH_KEY = "_columns"
JOURNAL_CHUNK = 100_000  # rows turned into a frame at a time when reading or compacting


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class JournalWriter:
    """Appends answers to a journal, each flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self._handle = open(path, "a", encoding="utf-8")
        self.rows_written = 0

    def append(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row, default=_json_default) + "\n")
        self._handle.flush()
        self.rows_written += 1

    def append_columns(self, shared: dict[str, Any], columns: dict[str, list]) -> None:
        """The rows of one batch answer as one line: what they share, then a list per column
        (one JSON encoding per batch, not per row). Reading expands it into rows."""
        self._handle.write(json.dumps({**shared, BATCH_KEY: columns}, default=_json_default) + "\n")
        self._handle.flush()
        self.rows_written += len(next(iter(columns.values()), []))

    def close(self) -> None:
        self._handle.close()


def _line_rows(record: dict[str, Any]) -> int:
    columns = record.get(BATCH_KEY)
    return len(columns["request_id"]) if isinstance(columns, dict) else 1


def _line_errors(record: dict[str, Any]) -> int:
    columns = record.get(BATCH_KEY)
    if isinstance(columns, dict):
        errors = columns.get("error", record.get("error", ""))
        if isinstance(errors, list):
            return sum(1 for e in errors if e)
        return _line_rows(record) if errors else 0
    return 1 if record.get("error") else 0


class JournalTail:
    """Follows a journal while a worker writes it: answers and errors read so far. A last
    line still being written is held back until it is whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answers = 0
        self.errors = 0
        self._offset = 0
        self._partial = b""

    def read_new(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # a line torn by a crash counts as nothing
                continue
            self.answers += _line_rows(record)
            self.errors += _line_errors(record)


def journal_chunks(path: Path) -> Iterator[pd.DataFrame]:
    """The journal's rows, `JOURNAL_CHUNK` at a time as frames; a last line cut short by a
    crash is skipped."""
    rows: list[dict] = []
    batches: list[pd.DataFrame] = []
    count = 0
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if BATCH_KEY in record:  # a batch answer: shared fields and one list per column
                    columns = record.pop(BATCH_KEY)
                    size = len(columns["request_id"])
                    batches.append(pd.DataFrame({**columns, **{k: [v] * size for k, v in record.items()}}))
                    count += size
                else:
                    rows.append(record)
                    count += 1
                if count >= JOURNAL_CHUNK:
                    yield result_frame(rows, batches)
                    rows, batches, count = [], [], 0
    if rows or batches:
        yield result_frame(rows, batches)


def result_frame(rows: list[dict], batches: list[pd.DataFrame] | None = None) -> pd.DataFrame:
    """Result rows as a frame with the journal's column types."""
    frames = [pd.DataFrame(rows, columns=RESULT_COLUMNS)] + [b.reindex(columns=RESULT_COLUMNS) for b in batches or []]
    frame = pd.concat(frames, ignore_index=True) if batches else frames[0]
    return frame.astype({"latency_ms": float, "service_ms": float, "score": float, "intended_send": float,
                         "actual_send": float, "status": "int64", "run_id": "str", "request_id": "str",
                         "target": "str", "prediction": "str", "probabilities": "str", "error": "str"})


def read_journal(path: Path) -> pd.DataFrame:
    """Rows of a journal (a run still going, or one whose app died before compacting it)."""
    frames = list(journal_chunks(path))
    return pd.concat(frames, ignore_index=True) if frames else result_frame([])


def compact_journal(journal: Path, target: Path) -> int:
    """The journal as Parquet, written a chunk at a time so that a run of millions of answers
    never sits in memory as Python objects all at once. The file is written beside the target
    and renamed into place once whole, so a reader never meets half a file. Returns the rows."""
    partial = target.with_name(target.name + ".partial")
    writer, rows = None, 0
    try:
        for frame in journal_chunks(journal):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += len(frame)
        if writer is None:
            result_frame([]).to_parquet(partial, index=False)
    finally:
        if writer is not None:
            writer.close()
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return rows
