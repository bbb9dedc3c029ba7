"""Recorded traffic: read a file, check it against the model signature, quarantine bad rows.

`load_traffic` reads CSV, Parquet or JSON Lines. `validate_traffic` compares the columns
with the model's input schema. Missing required columns, or a column whose values are
mostly of the wrong type, stop the run with a `SignatureMismatchError` that lists the
missing, extra and mistyped columns. Single bad rows (a value that is not a number, a
required field left empty) are quarantined: kept aside with their reason and counted,
while the rest is replayed.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..cells import cell_text
from ..errors import SignatureMismatchError, TrafficError
from .coercion import INTEGER_RANGES, NOT_VALID, NUMERIC_KINDS, coerce, describe, plain_key
from .formats import (
    FORMAT_NAMES,
    MALFORMED_LINE,
    MALFORMED_REASON,
    REQUEST_GROUP,
    RESERVED,
    compact,
    concatenated,
    detect_log_format,
    plain_id,
    read_request_log,
    request_log_chunks,
)
from .times import EARLIEST, LATEST, parse_times

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl",
           ".ndjson": "jsonl"}
ID_CANDIDATES = ("request_id", "requestId", "id", "event_id", "inference_id")
TIME_CANDIDATES = ("timestamp", "time", "ts", "event_time", "created_at")
MOSTLY_WRONG = 0.5  # a column whose values fail more often than this is mistyped, not dirty


@dataclass(frozen=True)
class FeatureSpec:
    """One input column of a model signature."""

    name: str
    kind: str  # MLflow type name: double, float, long, integer, string, boolean
    required: bool = True


@dataclass(frozen=True)
class ValidationReport:
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    extra_columns: list[str]
    converted_columns: list[str]  # columns stored in another type and converted
    missing_optional: list[str]
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> rows
    source_format: str = ""  # what the file was read as, e.g. "SageMaker Data Capture (JSON Lines)"
    out_of_range: dict[str, int] = field(default_factory=dict)  # column -> rows outside the training range
    rows_in_file: int | None = None  # when a sample was read while reading: how many rows the file holds
    checked_against: str = ""  # what said the model's inputs, when it was not the signature
    warnings: list[str] = field(default_factory=list)  # what will go wrong later, said before the replay

    def summary(self) -> str:
        text = f"Read as {self.source_format}. " if self.source_format else ""
        if self.checked_against:
            text += f"Checked against {self.checked_against}. "
        if self.rows_in_file is not None:
            text += (f"A seeded sample of {self.rows_read:,} of its {self.rows_in_file:,} rows was read and checked "
                     f"(the replay asked for a sample, so the rest was never loaded). ")
        text += f"{self.rows_read:,} rows read: {self.rows_valid:,} valid, {self.rows_quarantined:,} quarantined."
        if self.reasons:
            text += " " + "; ".join(f"{count:,} × {reason}" for reason, count in self.reasons.items()) + "."
        if self.converted_columns:
            text += f" Converted to the signature's type: {', '.join(self.converted_columns)}."
        if self.extra_columns:
            text += f" Not in the signature, not sent: {', '.join(self.extra_columns)}."
        if self.out_of_range:
            text += (" Outside what the training data held (kept and replayed): "
                     + ", ".join(f"{column} {rows:,} row{'s' if rows != 1 else ''}"
                                 for column, rows in self.out_of_range.items()) + ".")
        if self.warnings:
            text += " " + " ".join(self.warnings)
        return text


@dataclass(frozen=True)
class ValidatedTraffic:
    """Rows ready to replay (`requests`: id, timestamp, features) and the quarantine."""

    requests: pd.DataFrame
    quarantine: pd.DataFrame
    report: ValidationReport
    features: tuple[str, ...]


FRAME_TYPES = (("bool", "boolean"), ("int", "long"), ("float", "double"), ("datetime", "datetime"))


def specs_from_frame(frame: pd.DataFrame) -> list[FeatureSpec]:
    """FeatureSpecs read from a table's own columns (a training reference, the traffic's first
    rows) for a model logged without a signature: each column's type, optional where it has gaps."""
    specs = []
    for name in frame.columns:
        dtype = str(frame[name].dtype).lower()
        kind = next((mlflow_type for prefix, mlflow_type in FRAME_TYPES if dtype.startswith(prefix)), "string")
        specs.append(FeatureSpec(str(name), kind, not bool(frame[name].isna().any())))
    return specs


def integer_gap_warnings(requests: pd.DataFrame, specs: list[FeatureSpec]) -> list[str]:
    """Rows that miss a value for an optional integer input: valid here, but MLflow's scoring
    server cannot turn a missing value into int64 and refuses the whole request (HTTP 400)."""
    out = []
    for spec in specs:
        if spec.kind in ("long", "integer") and not spec.required and spec.name in requests:
            gaps = int(requests[spec.name].isna().sum())
            if gaps:
                out.append(f"{gaps:,} row{'s' if gaps != 1 else ''} miss{'es' if gaps == 1 else ''} a value for the "
                           f"optional integer input '{spec.name}': MLflow's scoring server cannot convert a missing "
                           f"value to int64 and will refuse {'them' if gaps != 1 else 'it'} (HTTP 400). They are "
                           f"replayed and counted as errors; to score them, fill the gaps or log the model with "
                           f"'{spec.name}' as a double.")
    return out


def specs_from_signature(signature) -> list[FeatureSpec]:
    """FeatureSpecs from an MLflow ModelSignature with a column-based input schema."""
    specs = []
    for col in signature.inputs.inputs:
        if not col.name:
            raise TrafficError("The model signature has unnamed inputs (a tensor schema); "
                               "the sandbox replays tabular traffic only.")
        kind = getattr(col.type, "name", str(col.type))
        specs.append(FeatureSpec(col.name, kind, bool(getattr(col, "required", True))))
    return specs


def load_traffic(path: str | Path, columns: list[str] | None = None,
                 text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a traffic file; the format follows its extension, and for JSON Lines the first
    record (see `formats`). `columns`, the signature's inputs in order, name the values
    of inputs that carry no names. A CSV's `text_columns` (integer inputs and ids) are read as
    the text they hold, so that no integer is rounded through a float and no id loses its
    leading zeros. The format read is in `frame.attrs["format"]`."""
    path = Path(path)
    fmt = _reader_for(path)
    if not path.exists():
        raise TrafficError(f"The traffic file {path} does not exist.", hint="Check the path, or upload the file.")
    check_size(path)
    if fmt is None:
        raise TrafficError(f"{path.name}: the sandbox cannot read '{path.suffix}' files.",
                           hint="Use CSV, Parquet or JSON Lines (.csv, .parquet, .jsonl).")
    try:
        if fmt == "csv":
            frame, name = pd.read_csv(path, skipinitialspace=True, dtype=dict.fromkeys(text_columns, str)), "CSV"
            check_column_names(frame, path)
        elif fmt == "parquet":
            frame, name = decoded(pq.read_table(path)).to_pandas(), "Parquet"
            check_column_names(frame, path)
        else:
            frame, log_format = read_request_log(path, columns)
            name = FORMAT_NAMES[log_format]
    except UNREADABLE as exc:
        raise read_error(path, fmt, exc) from exc
    if frame.empty:
        raise TrafficError(f"{path.name} holds no rows.", hint="Choose a file with recorded requests.")
    frame.attrs["format"] = name
    return frame


def decoded(table: pa.Table) -> pa.Table:
    """Dictionary-encoded (categorical) columns as their plain values, so each column is judged
    by the type of what it holds."""
    for index, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            plain = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], type=column.type.value_type)
            table = table.set_column(index, table.field(index).name, plain)
    return table


def check_column_names(frame: pd.DataFrame, path: Path) -> None:
    """A column whose name begins with the sandbox's reserved marker character is refused."""
    reserved = [cell_text(c) for c in frame.columns if str(c).startswith(RESERVED)]
    if reserved:
        raise TrafficError(f"{path.name} has a column whose name begins with the control character U+001F "
                           f"({reserved[0]!r}), which the sandbox reserves for its own markers.",
                           hint="Rename the column; nothing was replayed.")


def load_and_validate(path: str | Path, specs: list[FeatureSpec], sample_rows: int | None = None, seed: int = 0,
                      **options) -> ValidatedTraffic:
    """`validate_traffic(load_traffic(path))`, except that a JSON Lines log is read and validated
    a chunk at a time: only the valid requests, in their checked types, are ever held whole,
    so a large log needs about the memory of its table, not of its text. With `sample_rows`
    (a replay of a sample, no window), a large Parquet file is sampled while it is read: a
    seeded set of rows (twice the sample and a thousand, for quarantine to take its share) is
    read a row group at a time, so memory follows the sample, not the file. `options` are
    validate_traffic's keywords."""
    path = Path(path)
    names = [s.name for s in specs]
    if path.exists():
        check_size(path)
    if sample_rows is not None and _reader_for(path) == "parquet" and path.exists():
        sampled = _sampled_parquet(path, sample_rows, seed)
        if sampled is not None:
            frame, total = sampled
            result = validate_traffic(frame, specs, **options)
            return replace(result, report=replace(result.report, rows_in_file=total))
    if _reader_for(path) != "jsonl" or not path.exists():
        text = tuple(s.name for s in specs if s.kind in INTEGER_RANGES) + ID_CANDIDATES + tuple(
            c for c in (options.get("id_column"),) if c)
        return validate_traffic(load_traffic(path, names, text), specs, **options)
    requests, quarantines, reports, features = [], [], [], tuple(names)
    seen: set[str] = set()
    try:
        log_format = detect_log_format(path)
        for chunk in request_log_chunks(path, names, log_format):
            if chunk.empty:
                continue
            chunk.attrs["format"] = FORMAT_NAMES[log_format]
            part = validate_traffic(chunk, specs, seen_ids=seen, **options)
            requests.append(compact(part.requests))
            quarantines.append(part.quarantine)
            reports.append(part.report)
    except UNREADABLE as exc:
        if isinstance(exc, SignatureMismatchError):
            raise
        raise read_error(path, "jsonl", exc) from exc
    if not reports:
        raise TrafficError(f"{path.name} holds no rows.", hint="Choose a file with recorded requests.")
    quarantine = pd.concat(quarantines, ignore_index=True) if len(quarantines) > 1 else quarantines[0]
    return ValidatedTraffic(concatenated(requests), quarantine, _merged(reports), features)


MAX_FILE_BYTES = 50 * 2**30  # a traffic file past this is refused before it is read
SAMPLE_WHILE_READING_FROM = 1_000_000  # rows: smaller files are read whole, so their report counts every row


def check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TrafficError(f"{path.name} is {size / 2**30:,.0f} GB; the sandbox reads traffic files of up to "
                           f"{MAX_FILE_BYTES // 2**30} GB.", hint="Split it by time, or sample it first, and replay "
                                                                "the parts.")


def _sampled_parquet(path: Path, sample_rows: int, seed: int) -> tuple[pd.DataFrame, int] | None:
    """(a seeded sample of rows, the file's row count), or None when the file is small enough to
    read whole (or cannot be opened: reading it whole then says why)."""
    try:
        handle = pq.ParquetFile(path)
    except UNREADABLE:
        return None
    total = handle.metadata.num_rows
    wanted = sample_rows * 2 + 1000
    if total < SAMPLE_WHILE_READING_FROM or wanted * 4 >= total:  # small enough to read and report whole
        return None
    picked = np.sort(np.random.default_rng(seed).choice(total, size=wanted, replace=False))
    parts, start = [], 0
    try:
        for group in range(handle.num_row_groups):
            rows = handle.metadata.row_group(group).num_rows
            inside = picked[(picked >= start) & (picked < start + rows)] - start
            if len(inside):
                parts.append(decoded(handle.read_row_group(group)).take(pa.array(inside)))
            start += rows
        frame = pa.concat_tables(parts).to_pandas()
        check_column_names(frame, path)
    except UNREADABLE as exc:
        raise read_error(path, "parquet", exc) from exc
    frame.attrs["format"] = "Parquet"
    return frame, total


UNREADABLE = (ValueError, OSError, UnicodeError, EOFError, zlib.error, RecursionError, pa.ArrowException)
FORMAT_WORDS = {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines"}


MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
         (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (an Excel workbook is one)"),
         (b"PAR1", "a Parquet file"), (b"\xd0\xcf\x11\xe0", "an old Office document (.xls)"))


def binary_kind(path: Path) -> str | None:
    """What a file is by its first bytes, when it is a known binary kind (None otherwise)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), None)


def read_error(path: Path, fmt: str, exc: BaseException) -> TrafficError:
    """What went wrong reading a file, what was expected, and what to do, in one sentence each."""
    kind = FORMAT_WORDS.get(fmt, fmt.upper())
    if isinstance(exc, EOFError) or (isinstance(exc, zlib.error) and "incomplete" in str(exc)):
        return TrafficError(f"{path.name} ends before its compressed data does: the .gz file is truncated.",
                            hint="Copy or download it again, whole (gzip -t FILE checks a gzip file).")
    if isinstance(exc, gzip.BadGzipFile) or isinstance(exc, zlib.error):
        return TrafficError(f"{path.name} is named .gz but is not gzip-compressed data.",
                            hint="Compress it with gzip, or remove .gz from its name if it is plain text.")
    if isinstance(exc, UnicodeError):
        binary = binary_kind(path)
        if binary:  # a picture or a workbook under a text file's name: not an encoding problem
            return TrafficError(f"{path.name} is {binary}, not {kind} text: its first bytes say so.",
                                hint=f"Choose the traffic file itself ({kind}); the file's name ends in "
                                     f"{path.suffix or 'nothing'}, but its content is something else.")
        where = f" (byte {exc.object[exc.start]:#04x} at position {exc.start:,})" if isinstance(
            exc, UnicodeDecodeError) else ""
        return TrafficError(f"{path.name} is not UTF-8 text{where}; the sandbox reads {kind} as UTF-8.",
                            hint="Save it as UTF-8: in a spreadsheet, export as CSV UTF-8; on a command line, "
                                 "iconv -f latin1 -t utf-8 FILE > FILE.utf8 (or -f utf-16 for a UTF-16 export).")
    if isinstance(exc, RecursionError):
        return TrafficError(f"{path.name} nests its data too deeply to read.",
                            hint=f"Give one flat record (or scoring body) per row; {kind} expected.")
    if isinstance(exc, pa.ArrowNotImplementedError | pa.ArrowTypeError):
        return TrafficError(f"{path.name} has a column of lists or nested records, which a model input cannot be: "
                            f"{str(exc)[:120]}.", hint="Give one plain value (number, text or boolean) per cell.")
    detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return TrafficError(f"{path.name} could not be read as {kind}: {detail}.",
                        hint=f"Check that the file really is {kind} (the extension says which reader is used).")


def _merged(reports: list[ValidationReport]) -> ValidationReport:
    """One report for a file validated in chunks."""
    reasons: dict[str, int] = {}
    for report in reports:
        for reason, count in report.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count

    def union(name: str) -> list[str]:
        return list(dict.fromkeys(c for r in reports for c in getattr(r, name)))

    missing = [c for c in reports[0].missing_optional if all(c in r.missing_optional for r in reports)]
    return ValidationReport(sum(r.rows_read for r in reports), sum(r.rows_valid for r in reports),
                            sum(r.rows_quarantined for r in reports), union("extra_columns"),
                            union("converted_columns"), missing, reasons, reports[0].source_format)


def _reader_for(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    return READERS.get(suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix.lower())


def out_of_range(requests: pd.DataFrame, profile) -> dict[str, int]:
    """Rows per column outside the training reference: numbers below its minimum or above its
    maximum, text values it never held. Reported, not quarantined: the model must still answer."""
    from ..analytics.drift_samples import NumericSample

    counts = {}
    for column, sample in profile.samples.items():
        if column not in requests.columns or not sample.size:
            continue
        values = requests[column].dropna()
        if isinstance(sample, NumericSample):
            numbers = pd.to_numeric(values, errors="coerce")
            outside = int(((numbers < sample.values[0]) | (numbers > sample.values[-1])).sum())
        else:
            outside = int((~values.astype(str).isin(set(map(str, sample.counts.index)))).sum())
        if outside:
            counts[column] = outside
    return counts


def find_column(frame: pd.DataFrame, preferred: str | None, candidates: tuple[str, ...]) -> str | None:
    if preferred and preferred in frame.columns:
        return preferred
    return next((c for c in candidates if c in frame.columns), None)


def validate_traffic(frame: pd.DataFrame, specs: list[FeatureSpec], *, id_column: str | None = None,
                     time_column: str | None = None, source: str = "traffic",
                     keep_columns: tuple[str, ...] = (), seen_ids: set | None = None) -> ValidatedTraffic:
    """Check `frame` against the model's input specs; see the module docstring."""
    id_col = find_column(frame, id_column, ID_CANDIDATES)
    time_col = find_column(frame, time_column, TIME_CANDIDATES)
    names = [s.name for s in specs]
    missing = [s.name for s in specs if s.required and s.name not in frame.columns]
    missing_optional = [s.name for s in specs if not s.required and s.name not in frame.columns]
    extra = [c for c in frame.columns if c not in names and c not in (id_col, time_col)
             and not str(c).startswith(("_", RESERVED))]
    bad = pd.Series("", index=frame.index, dtype=object)
    converted, mistyped, columns = [], [], {}
    if MALFORMED_LINE in frame.columns:  # a request log's unreadable lines (a user's column cannot be this marker)
        reason = (frame[MALFORMED_REASON].fillna("line is not a JSON object")
                  if MALFORMED_REASON in frame.columns else "line is not a JSON object")
        bad = bad.mask(frame[MALFORMED_LINE].notna(), reason)
    for spec in specs:
        if spec.name not in frame.columns:
            columns[spec.name] = pd.Series(None, index=frame.index, dtype=(
                "Int64" if spec.kind in INTEGER_RANGES else float if spec.kind in NUMERIC_KINDS else object))
            continue
        values, failed, was_converted = coerce(frame[spec.name], spec.kind)
        present = frame[spec.name].notna()
        if present.sum() and failed.sum() / present.sum() > MOSTLY_WRONG:
            mistyped.append(f"{spec.name} (expected {spec.kind}, got {describe(frame[spec.name])})")
            continue
        if was_converted:
            converted.append(spec.name)
        bad = bad.mask(failed & (bad == ""), f"{spec.name}: {NOT_VALID.get(spec.kind, f'not a valid {spec.kind}')}")
        if spec.required:
            bad = bad.mask(values.isna() & ~failed & (bad == ""), f"{spec.name}: required but empty")
        columns[spec.name] = values
    if missing or mistyped:
        raise SignatureMismatchError(_mismatch_message(source, missing, extra, mistyped),
                                     missing=missing, extra=extra, mistyped=mistyped,
                                     hint="Choose a traffic file recorded for this model, or rename the columns to "
                                          "match its signature. Nothing was replayed and nothing was changed.")
    ids = (frame[id_col].map(plain_id) if id_col else
           pd.Series([f"req-{i:07d}" for i in range(len(frame))], index=frame.index))
    if id_col:
        bad = bad.mask(ids.isna() & (bad == ""), f"{id_col}: empty, or not plain text or a whole number (an object, a "
                                                 "list or an array is not an id)")
    if time_col:
        times, epoch_note = parse_times(frame[time_col], time_col)
        unreadable = frame[time_col].notna() & times.isna()
        bad = bad.mask(unreadable & (bad == ""), f"{time_col}: not a time between {EARLIEST.year} and {LATEST.year}")
        if epoch_note:
            converted.append(epoch_note)
    else:
        times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    duplicate = ids.duplicated() & (bad == "")
    if seen_ids is not None:  # a file validated in chunks: ids seen in earlier chunks count too
        # a set lookup per id: Series.isin(set) copies the whole set every chunk (quadratic on large logs)
        earlier = np.fromiter((key in seen_ids for key in ids.tolist()), dtype=bool, count=len(ids))
        duplicate |= pd.Series(earlier, index=ids.index) & (bad == "")
        seen_ids.update(ids[~duplicate & (bad == "")])
    bad = bad.mask(duplicate, "request_id: the same id as an earlier request (ids must be unique to pair answers "
                              "and labels)")
    clean = pd.DataFrame({"request_id": ids, "timestamp": times, **columns})
    if REQUEST_GROUP in frame.columns:  # rows of one multi-row request in a request log
        clean["_request"] = frame[REQUEST_GROUP]
    for column in keep_columns:  # not sent to the model, but needed by the replay (an A/B split key)
        if column in frame.columns and column not in clean.columns:
            kept = frame[column].map(plain_key)  # a plain value as text: never a record, a list or bytes
            bad = bad.mask(frame[column].notna() & kept.isna() & (bad == ""),
                           f"{column}: not a plain value (an object, a list or an array)")
            clean[column] = kept
    keep = bad == ""
    quarantine = frame[~keep].copy()
    quarantine.insert(0, "quarantine_reason", bad[~keep])
    reasons = bad[~keep].value_counts().to_dict()
    report = ValidationReport(len(frame), int(keep.sum()), int((~keep).sum()), extra, converted, missing_optional,
                              {str(k): int(v) for k, v in reasons.items()}, frame.attrs.get("format", ""))
    requests = clean[keep].reset_index(drop=True)
    for spec in specs:  # exact integers: int64 without gaps, else nullable (never floats, which round)
        if spec.kind in INTEGER_RANGES and requests[spec.name].notna().all():
            requests[spec.name] = requests[spec.name].astype("int64")
    return ValidatedTraffic(requests, quarantine.reset_index(drop=True), report, tuple(names))


def _mismatch_message(source: str, missing: list, extra: list, mistyped: list) -> str:
    parts = [f"The {source} does not match the model signature."]
    if missing:
        parts.append(f"Missing columns: {', '.join(missing)}.")
    if mistyped:
        parts.append(f"Mistyped columns: {'; '.join(mistyped)}.")
    if extra:
        parts.append(f"Extra columns (ignored): {', '.join(extra)}.")
    return " ".join(parts)
