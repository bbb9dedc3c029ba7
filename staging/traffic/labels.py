"""Late labels, checked as strictly as traffic: which column holds the outcome, which requests
it names, and how many of the run's requests it labels; then kept by the run as its own copy.

A labels file is a table (CSV, Parquet) or JSON Lines (SageMaker ground truth, or records)
with a request id column and the outcome. The outcome column is the model's target, or the
one the user names (`--label-column`, or the picker on the page); a file with one column
besides the id and times needs no naming. The run keeps `labels.parquet` in its folder (the
joined request id and outcome) and the source's SHA-256 and counts in its manifest, so a later
file of the same name changes nothing the run showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import TrafficError
from ..tables import sha256_of
from . import merge_ground_truth, read_ground_truth
from .formats import plain_id
from .validation import ID_CANDIDATES, TIME_CANDIDATES, UNREADABLE, read_error

LABEL_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json", ".gz")


@dataclass(frozen=True)
class CheckedLabels:
    table: pd.DataFrame  # request_id, <target>, and _event_id for SageMaker ground truth
    target: str
    source: str
    column: str  # the file's column that held the outcome
    sha256: str
    unreadable_lines: int


def check_labels(path: str | Path, target: str | None, label_column: str | None = None) -> CheckedLabels:
    """The labels file read and checked, or a `TrafficError` saying what is wrong and what to do."""
    path = Path(path)
    if not path.exists():
        raise TrafficError(f"The labels file {path} does not exist.", hint="Check the path, or upload the file.")
    if not path.name.lower().endswith(LABEL_SUFFIXES):
        raise TrafficError(f"{path.name}: labels are read from CSV, Parquet or JSON Lines, not '{path.suffix}'.",
                           hint="Save them as .csv, .parquet or .jsonl with a request id and the outcome.")
    try:
        table = read_ground_truth(path, target or label_column or "label")
    except UNREADABLE as exc:
        raise read_error(path, "jsonl" if ".json" in path.name else path.suffix.lstrip("."), exc) from exc
    if table.empty:
        raise TrafficError(f"{path.name} holds no labels.", hint="Choose the file with the outcomes, one row a request.")
    id_column = next((c for c in ("request_id", *ID_CANDIDATES) if c in table.columns), None)
    if id_column is None:
        raise TrafficError(f"{path.name} has no request id column (it has {', '.join(map(str, table.columns[:8]))}).",
                           hint="Add a request_id column with the ids the traffic file carries.")
    chosen = _outcome_column(table, path.name, target, label_column, id_column)
    out = table.rename(columns={id_column: "request_id", chosen: target or chosen})
    keep = ["request_id", target or chosen] + (["_event_id"] if "_event_id" in out.columns else [])
    out = out[keep].dropna(subset=[target or chosen])
    out["request_id"] = out["request_id"].map(plain_id)  # an id that is a list or a record matches no request
    out = out.dropna(subset=["request_id"])
    return CheckedLabels(out, target or chosen, str(path.resolve()), str(chosen), sha256_of(path),
                         int(table.attrs.get("unreadable_lines", 0)))


def _outcome_column(table: pd.DataFrame, name: str, target: str | None, label_column: str | None,
                    id_column: str) -> str:
    if label_column:
        if label_column not in table.columns:
            raise TrafficError(f"{name} has no column '{label_column}' (it has {', '.join(map(str, table.columns))}).",
                               hint="Name the column that holds the outcome.")
        return label_column
    if target and target in table.columns:
        return target
    others = [c for c in table.columns if c not in (id_column, "_event_id", *TIME_CANDIDATES, "label_arrived_at")]
    if len(others) == 1 and not target:
        return str(others[0])
    wanted = f"the model's target '{target}'" if target else "an outcome column"
    raise TrafficError(f"{name} has no column named for {wanted}; it has {', '.join(map(str, table.columns))}.",
                       hint="Say which column holds the outcome: --label-column NAME on the command line, or the "
                            "outcome picker on the page.")


def join_labels(labels: CheckedLabels, requests: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """(request_id and outcome for the run's requests, counts: matched, unmatched, unreadable lines)."""
    joined = merge_ground_truth(requests, labels.table, labels.target)
    matched = int(joined["request_id"].nunique())
    facts = {"file": labels.source, "sha256": labels.sha256, "column": labels.column, "target": labels.target,
             "matched": matched,
             "unmatched_labels": int(len(labels.table) - labels.table["request_id"].isin(joined["request_id"]).sum()),
             "unlabelled_requests": int(requests["request_id"].nunique() - matched),
             "unreadable_lines": labels.unreadable_lines}
    return joined[["request_id", labels.target]], facts
