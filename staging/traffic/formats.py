"""Request logs in the formats serving platforms write, read into one table of requests.

Detected from the first record of a JSON Lines file (`detect_log_format`), by the first entry of
the registry `LOG_FORMATS` that recognises it:
- "mlflow-payload": each line an MLflow scoring body (`dataframe_split`, `dataframe_records`,
  `instances` or `inputs`), bare or under "body"/"request"/"payload", with optional
  "request_id"/"id" and "timestamp"/"time" beside it; one or many rows per request.
- "sagemaker-capture": SageMaker Data Capture: `captureData.endpointInput` with CSV, JSON
  or BASE64 encoding (CSV inputs have no header: columns follow the model signature's order),
  `eventMetadata.eventId`, `inferenceId` and `inferenceTime`. Ground truth written by
  SageMaker (`groundTruthData`) is merged on `inferenceId`, else `eventId`.
- "kserve-cloudevents": KServe's request logger as CloudEvents, in each form a receiver writes:
  structured (`specversion`, `id`, `time`, `type` ...inference.request, `data` or
  `data_base64`), binary mode (`ce-*` headers under "headers" beside the body) or flat `ce-*`
  keys; the body a V1 `instances` or an Open Inference Protocol `inputs` body (a tensor per
  column, [n] or [n, 1], or one [n, k] tensor in signature order, flat or nested). Response
  events are skipped.
- MLflow payload logs from before 2.0: a bare pandas-split body (`columns`, `data`), or a
  pandas-records list with its `format=pandas-records` content type.
- "records": any other object per line, taken as one row with its fields as columns.

Every reader streams: lines are parsed in chunks of `CHUNK_LINES` into small frames, so a
large log needs about the memory of its table, not of its text and Python objects.
A row that cannot be read becomes a row with `MALFORMED_LINE` set, which validation
quarantines. Rows of one multi-row request share `REQUEST_GROUP`, its position in the log.
These marker columns begin with U+001F, a control character no user's column may begin with
(a record that has one is itself malformed), so a user's column can never be taken for one.
A request id must be plain text or a whole number: an object, a list or an array as an id
makes its line malformed, never an id spelled from it.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..cells import cell_text
from ..errors import TrafficError
from .times import parse_times

CHUNK_LINES = 20_000
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
WRAPPER_KEYS = ("body", "request", "payload")


MAX_LINE_CHARS = 16 * 2**20  # a JSON Lines record longer than this is quarantined unread
RESERVED = "\x1f"  # marker columns begin with it; a user's column may not
MALFORMED_LINE, MALFORMED_REASON, REQUEST_GROUP = (f"{RESERVED}malformed_line", f"{RESERVED}malformed_reason",
                                                   f"{RESERVED}request")
EXACT_FLOAT_INTEGERS = 2**53  # past this a float no longer holds every whole number


def plain_id(value: Any) -> str | None:
    """A request id as text: text itself, or a whole number written out exactly. None for a
    missing or empty one, or one that is not a plain value (an object, a list, an array, a
    boolean, bytes that are not UTF-8, a number with a fraction or not finite)."""
    if value is None or value is pd.NA or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if np.isfinite(number) and number.is_integer() else None
    if isinstance(value, Decimal):
        return str(int(value)) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, bytes):
        try:
            return plain_id(value.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return None


def _malformed(number: int, reason: str) -> list[dict]:
    return [{MALFORMED_LINE: number, MALFORMED_REASON: reason[:200]}]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if len(line) > MAX_LINE_CHARS:
                yield number, TOO_LONG
            elif line.strip():
                yield number, line


TOO_LONG = "\x00too long"  # stands in for a line past MAX_LINE_CHARS


def detect_log_format(path: str | Path) -> str:
    """The format of a JSON Lines log, from its first record that parses."""
    for _, line in _lines(Path(path)):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        return record_format(record)
    return "records"


def record_format(record: Any) -> str:
    """The key of the first format in `LOG_FORMATS` that recognises this record."""
    if not isinstance(record, dict):
        return RECORDS.key
    return next(fmt.key for fmt in LOG_FORMATS if fmt.matches(record))


def _unwrap(record: dict):
    """The scoring body a log record carries: itself, or under "body"/"request"/"payload" (as an
    object or JSON text). MLflow before 2.0 logged bare pandas bodies with their content type:
    `format=pandas-records` (a list of records) becomes `dataframe_records`."""
    content_type = str(record.get("content_type") or record.get("Content-Type") or "").lower()
    for key in WRAPPER_KEYS:
        if "pandas-records" in content_type and isinstance(record.get(key), (list, str)):
            body = record[key] if isinstance(record[key], list) else json.loads(record[key])
            return {"dataframe_records": body}
    for key in WRAPPER_KEYS:
        if isinstance(record.get(key), dict):
            return record[key]
        if isinstance(record.get(key), str):
            try:
                return json.loads(record[key])
            except json.JSONDecodeError:
                return None
    return record


def _flat(data: list) -> list:
    """A tensor's data, row-major and flat (V2 allows nested lists of the tensor's shape)."""
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


class RecordShapeError(ValueError):
    """A record of a known format whose parts have the wrong shape; says what was expected."""


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise RecordShapeError(what)


def _row_list(rows: Any, key: str, columns: list[str] | None) -> list[dict]:
    _expect(isinstance(rows, list), f"'{key}' must be a list of rows")
    out = []
    for row in rows:
        if isinstance(row, dict):
            out.append(row)
        else:
            _expect(isinstance(row, list), f"each row of '{key}' must be an object or a list of values")
            out.append(dict(zip(columns or [], row)))
    return out


def payload_rows(body, columns: list[str] | None) -> list[dict]:
    """The rows of one MLflow or KServe scoring body, as dicts of column to value."""
    _expect(isinstance(body, dict), "the request body must be a JSON object")
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        _expect(isinstance(split, dict), "'dataframe_split' must be an object with 'columns' and 'data'")
        names = split.get("columns") or columns or []
        _expect(isinstance(names, list), "'dataframe_split.columns' must be a list of names")
        data = split.get("data")
        _expect(isinstance(data, list) and all(isinstance(row, list) for row in data),
                "'dataframe_split.data' must be a list of rows, each a list of values")
        return [dict(zip(names, row)) for row in data]
    if "dataframe_records" in body:
        records = body["dataframe_records"]
        _expect(isinstance(records, list) and all(isinstance(r, dict) for r in records),
                "'dataframe_records' must be a list of objects")
        return list(records)
    if "instances" in body:
        return _row_list(body["instances"], "instances", columns)
    if "inputs" not in body and "columns" in body and "data" in body:  # MLflow before 2.0: pandas-split
        return payload_rows({"dataframe_split": {"columns": body["columns"], "data": body["data"]}}, columns)
    inputs = body["inputs"]
    if isinstance(inputs, dict):  # MLflow's column-wise "inputs": {column: [values]}
        _expect(all(isinstance(v, list) for v in inputs.values()) and len({len(v) for v in inputs.values()}) <= 1,
                "column-wise 'inputs' must map each column to a list of values, all of one length")
        return pd.DataFrame(inputs).to_dict("records")
    _expect(isinstance(inputs, list), "'inputs' must be a list of rows or of V2 tensors")
    if inputs and isinstance(inputs[0], dict) and "name" in inputs[0] and "data" in inputs[0]:
        _expect(all(isinstance(t, dict) and isinstance(t.get("data"), list) for t in inputs),
                "each V2 tensor in 'inputs' must have a 'data' list")
        # Open Inference Protocol: one tensor per column ([n] or [n, 1]), or one 2-D tensor [n, k] in
        # signature order; data flat (row-major) or nested, as the protocol allows both
        tensors = [(t["name"], _flat(t["data"]), t.get("shape") or []) for t in inputs]
        if len(tensors) == 1 and columns and len(tensors[0][2]) == 2 and tensors[0][2][1] not in (1, -1):
            _, flat, shape = tensors[0]
            width = int(shape[1])
            _expect(width == len(columns), f"a V2 tensor of {width} values per row, and the model has "
                                           f"{len(columns)} inputs")
            return [dict(zip(columns, flat[i:i + width])) for i in range(0, len(flat), width)]
        _expect(len({len(flat) for _, flat, _ in tensors}) == 1, "the V2 tensors in 'inputs' must be of one length")
        return pd.DataFrame({name: flat for name, flat, _ in tensors}).to_dict("records")
    return _row_list(inputs, "inputs", columns)


def _csv_rows(text: str, columns: list[str] | None) -> list[dict]:
    frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False, skipinitialspace=True)
    if not columns or frame.shape[1] != len(columns):
        raise ValueError(f"a CSV input of {frame.shape[1]} values per row, and the model signature has "
                         f"{len(columns or [])} columns")
    frame.columns = columns
    return frame.replace("", None).to_dict("records")


def _capture_rows(capture: dict, columns: list[str] | None) -> list[dict]:
    _expect(isinstance(capture, dict) and "data" in capture,
            "'captureData.endpointInput' must be an object with 'data' and 'encoding'")
    data, encoding = capture["data"], str(capture.get("encoding", "")).upper()
    _expect(isinstance(data, (str, dict, list)), "'endpointInput.data' must be text")
    content_type = str(capture.get("observedContentType", "")).lower()
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "CSV" or "csv" in content_type:
        return _csv_rows(data, columns)
    body = json.loads(data) if isinstance(data, str) else data
    if isinstance(body, list):
        return _row_list(body, "endpointInput.data", columns)
    return payload_rows(body, columns)


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class LogFormat:
    """One request-log format: how to recognise a record of it, and how to read one.

    `read(line_number, record, columns)` returns (rows, request id, fields every row gets),
    or no rows for a record that holds no request (a response event, say)."""

    key: str
    title: str  # as the validation report names it
    matches: Callable[[dict], bool]
    read: Callable[[int, dict, list[str] | None], tuple[Rows, Any, dict[str, Any]]]


def _read_sagemaker(number: int, record: dict, columns: list[str] | None) -> tuple[Rows, Any, dict[str, Any]]:
    if "captureData" not in record:
        return [], None, {}
    meta = record.get("eventMetadata") or {}
    _expect(isinstance(meta, dict), "'eventMetadata' must be an object")
    _expect(isinstance(record["captureData"], dict) and "endpointInput" in record["captureData"],
            "'captureData' must hold 'endpointInput' (a capture of outputs only holds no request)")
    rows = _capture_rows(record["captureData"]["endpointInput"], columns)
    for key in ("eventId", "inferenceId"):
        _expect(meta.get(key) is None or isinstance(meta.get(key), (str, int)), f"'eventMetadata.{key}' must be text")
    extra = {"_event_id": meta.get("eventId"), "_inference_id": meta.get("inferenceId"),
             "timestamp": meta.get("inferenceTime")}
    return rows, meta.get("inferenceId") or meta.get("eventId") or f"line-{number}", extra


CE_PREFIX = "ce-"


def _cloudevent_fields(record: dict) -> dict:
    """A KServe logger event as one structured CloudEvent (`specversion`, `id`, `type`, `time`,
    `data`), whichever form the receiver wrote: structured (`data` or `data_base64`), binary mode
    with its `ce-*` headers under "headers" and the body beside them, or flat `ce-*` keys."""
    headers: dict = record["headers"] if isinstance(record.get("headers"), dict) else {}
    flat = {k.lower(): v for k, v in {**record, **headers}.items() if isinstance(k, str)}
    event = {name[len(CE_PREFIX):]: value for name, value in flat.items() if name.startswith(CE_PREFIX)}
    event.update({k: v for k, v in record.items() if k in ("specversion", "id", "type", "time", "source")})
    if "data" in record:
        event["data"] = record["data"]
    elif "data_base64" in record:
        _expect(isinstance(record["data_base64"], str), "'data_base64' must be base64 text")
        event["data"] = base64.b64decode(record["data_base64"], validate=True).decode("utf-8")
    else:
        body = next((record[key] for key in WRAPPER_KEYS if key in record), None)
        _expect(body is not None, "a CloudEvent carries its request in 'data', 'data_base64' or a body")
        event["data"] = body
    return event


def _is_cloudevent(record: dict) -> bool:
    if "specversion" in record and ("data" in record or "data_base64" in record):
        return True
    headers: dict = record["headers"] if isinstance(record.get("headers"), dict) else {}
    return any(isinstance(k, str) and k.lower() == "ce-specversion" for k in (*record, *headers))


def _read_cloudevent(number: int, record: dict, columns: list[str] | None) -> tuple[Rows, Any, dict[str, Any]]:
    record = _cloudevent_fields(record)
    if "response" in str(record.get("type", "")):
        return [], None, {}
    body = record["data"] if isinstance(record["data"], dict) else json.loads(record["data"])
    _expect(isinstance(body, dict), "a CloudEvent's 'data' must be a JSON object (an 'instances' or 'inputs' body)")
    return payload_rows(body, columns), record.get("id") or f"line-{number}", {"timestamp": record.get("time")}


def _read_payload(number: int, record: dict, columns: list[str] | None) -> tuple[Rows, Any, dict[str, Any]]:
    rows = payload_rows(_unwrap(record), columns)
    request_id = record.get("request_id") or record.get("id") or f"line-{number}"
    return rows, request_id, {"timestamp": record.get("timestamp") or record.get("time")}


def _is_payload(record: dict) -> bool:
    try:
        body = _unwrap(record)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(body, dict) and (any(key in body for key in MLFLOW_KEYS) or
                                       ("columns" in body and "data" in body))  # pandas-split, before MLflow 2.0


RECORDS = LogFormat("records", "JSON Lines records", lambda record: True, lambda n, record, c: ([record], None, {}))
LOG_FORMATS = (  # tried in this order; plain records take whatever no other format claims
    LogFormat("sagemaker-capture", "SageMaker Data Capture (JSON Lines)",
              lambda record: "captureData" in record or "groundTruthData" in record, _read_sagemaker),
    LogFormat("kserve-cloudevents", "KServe request log (CloudEvents)", _is_cloudevent, _read_cloudevent),
    LogFormat("mlflow-payload", "MLflow scoring payloads (JSON Lines)", _is_payload, _read_payload),
    RECORDS,
)
FORMATS = {fmt.key: fmt for fmt in LOG_FORMATS}
FORMAT_NAMES = {fmt.key: fmt.title for fmt in LOG_FORMATS}


def _records_from(number: int, line: str, fmt: str, columns: list[str] | None) -> Rows:
    """One log line as table rows (empty for lines that hold no request, such as responses)."""
    if line is TOO_LONG:
        return _malformed(number, f"line longer than {MAX_LINE_CHARS // 2**20} MB "
                                                                 "(the limit for one record)")
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return _malformed(number, "line is not valid JSON")
    except RecursionError:
        return _malformed(number, "line nests JSON too deeply to read")
    if not isinstance(record, dict):
        return _malformed(number, "line is not a JSON object")
    if fmt != RECORDS.key and not FORMATS[fmt].matches(record):
        return _malformed(number, f"line is not in the file's format "
                                                                 f"({FORMAT_NAMES[fmt]}, from its first record)")
    try:
        rows, request_id, extra = FORMATS[fmt].read(number, record, columns)
    except RecordShapeError as exc:
        return _malformed(number, f"request unreadable: {exc}"[:200])
    except KeyError as exc:
        return _malformed(number, f"request unreadable: no {exc} in the record"[:200])
    except (ValueError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        return _malformed(number, f"request unreadable: {exc}"[:200])
    if any(isinstance(key, str) and key.startswith(RESERVED) for row in rows for key in row):
        return _malformed(number, "a field's name begins with the control character U+001F, which the sandbox "
                                  "reserves for its own markers")
    if fmt == RECORDS.key or not rows:  # a plain record is its own row; a response holds no request
        return rows
    plain = plain_id(request_id)
    if plain is None:
        return _malformed(number, f"request id {cell_text(request_id)[:60]!r} is not plain text or a whole number "
                                  "(an object, a list or an array is not an id)")
    many = len(rows) > 1
    return [{**row, **extra, "request_id": f"{plain}#{k}" if many else plain, REQUEST_GROUP: number}
            for k, row in enumerate(rows)]


def request_log_chunks(path: str | Path, columns: list[str] | None = None,
                       fmt: str | None = None) -> Iterator[pd.DataFrame]:
    """The log's requests as frames of about `CHUNK_LINES` rows each (at least one frame)."""
    path = Path(path)
    fmt = fmt or detect_log_format(path)
    rows, produced = [], False
    for number, line in _lines(path):
        rows.extend(_records_from(number, line, fmt, columns))
        if len(rows) >= CHUNK_LINES:
            yield _timestamped(_frame(rows))
            rows, produced = [], True
    if rows or not produced:
        yield _timestamped(_frame(rows))


def _frame(rows: list[dict]) -> pd.DataFrame:
    """The rows as a frame, with every integer as it was written: pandas reads a column that
    mixes whole numbers and fractions as floats, which rounds integers past 2**53, so those
    cells keep the exact integer the line held (the column becomes one of objects)."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_float_dtype(values):
            continue
        large = np.flatnonzero(values.abs().to_numpy() >= EXACT_FLOAT_INTEGERS)  # 2**53 + 1 rounds to 2**53
        if len(large):
            exact = values.astype(object)
            for position in large:
                exact.iat[position] = rows[position].get(column)
            frame[column] = exact
    return frame


def _timestamped(frame: pd.DataFrame) -> pd.DataFrame:
    """Times parsed to UTC; a value that is not a time is kept as it was written, so that
    validation quarantines its row with a reason instead of the row losing its time in silence."""
    if "timestamp" in frame.columns:
        raw = frame["timestamp"]
        if pd.api.types.is_numeric_dtype(raw) and raw.notna().any():  # epoch numbers: validation reads them
            return frame
        try:
            parsed, _ = parse_times(raw)
        except TrafficError:  # durations: validation refuses the column by name
            return frame
        unreadable = raw.notna() & parsed.isna()
        frame["timestamp"] = parsed.astype(object).where(~unreadable, raw.map(cell_text)) if unreadable.any() else parsed
    return frame


def read_request_log(path: str | Path, columns: list[str] | None = None,
                     fmt: str | None = None) -> tuple[pd.DataFrame, str]:
    """(table of requests, format) for a JSON Lines log; `columns` are the model signature's
    inputs in order, for inputs that carry no names (CSV captures, positional instances)."""
    fmt = fmt or detect_log_format(path)
    return concatenated([compact(chunk) for chunk in request_log_chunks(path, columns, fmt)]), fmt


def compact(frame: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """A chunk as an Arrow table (compact, and joined later without a copy); a chunk whose
    columns mix types (a number written as text on some line) stays a frame."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return frame


def concatenated(chunks: list) -> pd.DataFrame:
    """One frame from the chunks. Arrow tables are joined without copying and converted column
    by column, freeing each as it goes, so the peak stays near one copy of the table."""
    if all(isinstance(c, pa.Table) for c in chunks):
        try:
            table = pa.concat_tables(chunks, promote_options="permissive")
            chunks.clear()
            return table.to_pandas(self_destruct=True, split_blocks=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    frames = [c.to_pandas() if isinstance(c, pa.Table) else c for c in chunks]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_ground_truth(path: str | Path, target: str) -> pd.DataFrame:
    """Labels from SageMaker ground-truth records (`groundTruthData` with `eventMetadata`), or any
    table with a request id column: request_id, `target`. SageMaker's are keyed on inferenceId
    when they carry one, else on eventId; a value of several lines ("1\n0") labels the rows of
    a multi-row capture in order (`id#0`, `id#1`, as the traffic reader names them); numbers
    written as text ("1.0") become numbers. A torn or unreadable line is skipped and counted in
    `frame.attrs["unreadable_lines"]`."""
    path = Path(path)
    if path.suffix in (".csv", ".parquet"):
        return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    rows, unreadable = [], 0
    for _, line in _lines(path):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            unreadable += 1
            continue
        if not isinstance(record, dict):
            unreadable += 1
            continue
        if "groundTruthData" not in record:
            rows.append(record)
            continue
        truth, meta = record["groundTruthData"], record.get("eventMetadata") or {}
        if not isinstance(truth, dict) or not isinstance(meta, dict) or "data" not in truth:
            unreadable += 1
            continue
        value = truth["data"]
        try:
            if str(truth.get("encoding", "")).upper() == "BASE64":
                value = base64.b64decode(value).decode("utf-8")
        except (ValueError, TypeError):
            unreadable += 1
            continue
        request_id = meta.get("inferenceId") or meta.get("eventId")
        values = [v.strip() for v in str(value).strip().splitlines() if v.strip()] or [""]
        for k, one in enumerate(values):
            rows.append({"request_id": f"{request_id}#{k}" if len(values) > 1 else request_id,
                         "_event_id": meta.get("eventId") if len(values) == 1 else None, target: _label_value(one)})
    frame = pd.DataFrame(rows)
    frame.attrs["unreadable_lines"] = unreadable
    return frame


def _label_value(text: str):
    """A label as written, a number when it spells one ("1.0" is 1, "0.25" stays 0.25)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def merge_ground_truth(requests: pd.DataFrame, truth: pd.DataFrame, target: str) -> pd.DataFrame:
    """request_id, `target` for the requests: on the request id (inferenceId), else on eventId."""
    by_id = requests[["request_id"]].merge(truth[["request_id", target]].dropna(), on="request_id")
    if "_event_id" in requests.columns and "_event_id" in truth.columns:
        rest = requests[~requests["request_id"].isin(by_id["request_id"])][["request_id", "_event_id"]]
        by_event = rest.merge(truth[["_event_id", target]].dropna(), on="_event_id")[["request_id", target]]
        by_id = pd.concat([by_id, by_event], ignore_index=True)
    return by_id.drop_duplicates("request_id")
