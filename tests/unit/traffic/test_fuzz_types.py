"""The kinds of input the held-out probe found accepted wrongly or crashing, made by Hypothesis
a thousand files a run: Parquet columns of every Arrow type (durations, binary, decimals,
dictionaries, large strings, lists, records, timestamps of every unit), ids of every JSON type,
a schema that changes between the chunks of a log, huge integers beside NaN and ±inf in CSV.

Each file ends refused in one line with a hint, or read with its bad rows quarantined, and what
is accepted is exact: every integer the model receives equals the one the file held (checked
against Python's own integers and Decimals, not the sandbox's parser), every id is a plain
value, the run's files can be written, and the page's tables can show every cell."""

import io
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from staging.cells import cell_text
from staging.errors import StagingError
from staging.replay.plan import send_offsets
from staging.traffic import FeatureSpec, formats, load_and_validate
from staging.ui.display import readable

SPECS = [FeatureSpec("age", "long"), FeatureSpec("count", "integer", False), FeatureSpec("income", "double"),
         FeatureSpec("housing", "string", False)]
N = 6

huge = st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**53 + 1, 2**31, -(2**31) - 1, 10**400])
integer_like = st.one_of(st.integers(-100, 100), huge, st.sampled_from([36.0, 1.5, float("nan"), float("inf"),
                                                                         -float("inf"), "36.0", "1e3", " 7 ", "x",
                                                                         "-9223372036854775809", "", None, True]))
json_ids = st.one_of(st.sampled_from(["a", "b", "a", "", " "]), st.integers(-3, 3), st.floats(), st.booleans(),
                     st.none(), st.just({"a": 1}), st.just([1]), st.just([]), st.sampled_from([2**70, 1.5]))
ARROW_TYPES = {
    "int64": pa.int64(), "uint64": pa.uint64(), "float32": pa.float32(), "float64": pa.float64(),
    "decimal": pa.decimal128(38, 2), "string": pa.string(), "large_string": pa.large_string(),
    "dictionary": pa.dictionary(pa.int32(), pa.string()), "binary": pa.binary(), "duration": pa.duration("s"),
    "timestamp_s": pa.timestamp("s"), "timestamp_ms_utc": pa.timestamp("ms", tz="UTC"), "timestamp_ns": pa.timestamp("ns"),
    "date": pa.date32(), "list": pa.list_(pa.int64()), "struct": pa.struct([("a", pa.int64())]), "bool": pa.bool_(),
    "null": pa.null()}


def arrow_values(kind: str, draw) -> pa.Array:
    """N values of one Arrow type, some odd."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ints = [int(v) for v in rng.integers(-50, 50, N)]
    if kind in ("int64", "uint64"):
        ints[0] = draw(st.sampled_from([2**63 - 1, 2**53 + 1, 7])) if kind == "int64" else draw(
            st.sampled_from([2**64 - 1, 2**63, 5]))
        return pa.array([abs(v) if kind == "uint64" else v for v in ints[1:]] + [ints[0]], ARROW_TYPES[kind])
    if kind in ("float32", "float64"):
        return pa.array([float(v) + draw(st.sampled_from([0.0, 0.5])) for v in ints[:-1]] + [
            draw(st.sampled_from([float("nan"), float("inf"), 1e300, 2.0**63]))], ARROW_TYPES[kind])
    if kind == "decimal":
        return pa.array([Decimal(v) / draw(st.sampled_from([1, 4])) for v in ints], ARROW_TYPES[kind])
    if kind in ("string", "large_string", "dictionary"):
        texts = [str(v) for v in ints[:-1]] + [draw(st.sampled_from(["9223372036854775808", "own", "", "1.0"]))]
        plain = pa.array(texts, pa.string() if kind != "large_string" else pa.large_string())
        return plain.dictionary_encode() if kind == "dictionary" else plain
    if kind == "binary":
        return pa.array([str(v).encode() for v in ints[:-1]] + [draw(st.sampled_from([b"\xff\xfe", b"12"]))],
                        pa.binary())
    if kind == "duration":
        return pa.array(ints, pa.duration("s"))
    if kind.startswith("timestamp"):
        base = 1_790_000_000 if draw(st.booleans()) else 5_000_000_000  # 2026, or the year 2128
        unit = ARROW_TYPES[kind].unit
        scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
        return pa.array([(base + v) * scale for v in ints], ARROW_TYPES[kind])
    if kind == "date":
        return pa.array([20_000 + v for v in ints], pa.date32())
    if kind == "list":
        return pa.array([[v] for v in ints], ARROW_TYPES[kind])
    if kind == "struct":
        return pa.array([{"a": v} for v in ints], ARROW_TYPES[kind])
    if kind == "bool":
        return pa.array([v > 0 for v in ints], pa.bool_())
    return pa.nulls(N)


@st.composite
def parquet_files(draw):
    fitting = {"age": ["int64", "uint64", "float64", "decimal", "string", "dictionary", "large_string"],
               "count": ["int64", "uint64", "float64", "decimal", "string"],
               "income": ["float32", "float64", "int64", "decimal", "string"],
               "housing": ["string", "large_string", "dictionary", "binary"]}
    columns = {name: arrow_values(draw(st.one_of(st.sampled_from(kinds), st.sampled_from(sorted(ARROW_TYPES)))), draw)
               for name, kinds in fitting.items()}  # mostly a type that may fit, sometimes any
    id_kind = draw(st.sampled_from(["string", "int64", "list", "struct", "binary", "float64", "dictionary", "none"]))
    if id_kind != "none":
        columns["request_id"] = arrow_values(id_kind, draw) if id_kind != "string" else pa.array(
            [f"r{i}" for i in range(N)])
    time_kind = draw(st.sampled_from(["timestamp_s", "timestamp_ms_utc", "timestamp_ns", "duration", "int64",
                                      "string", "date", "none"]))
    if time_kind != "none":
        columns["timestamp"] = arrow_values(time_kind, draw)
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return ".parquet", buffer.getvalue(), None


@st.composite
def jsonl_files(draw):
    """Records whose ids take every JSON type and whose columns change type between chunks (the
    log is read in chunks of three lines here)."""
    rows, sources = [], {}
    for i in range(draw(st.integers(1, 9))):
        row = {"age": draw(integer_like), "income": draw(st.sampled_from([1.5, "2.5", None, float("nan")])),
               "housing": draw(st.sampled_from(["own", 5, None, ["x"], {"k": 1}]))}
        if draw(st.booleans()):
            row["count"] = draw(integer_like)
        generated = draw(st.booleans())
        row["request_id"] = f"r{i}" if generated else draw(json_ids)
        if draw(st.booleans()):
            row["timestamp"] = draw(st.sampled_from(["2026-10-01T08:00:00Z", 1_790_000_000, 1_790_000_000_000,
                                                     "nope", None, {"t": 1}, [1]]))
        if draw(st.booleans()):
            row["_event_id"] = draw(json_ids)
        rows.append(row)
        if generated:  # only the ids made unique here name their source row
            sources[row["request_id"]] = row
    shape = draw(st.sampled_from(["records", "cloudevent", "payload"]))
    lines = []
    for row in rows:
        features = {k: v for k, v in row.items() if k not in ("request_id", "timestamp", "_event_id")}
        if shape == "records":
            lines.append(row)
        elif shape == "cloudevent":
            lines.append({"specversion": "1.0", "id": row["request_id"], "type": "org.kubeflow.serving.inference.request",
                          "time": row.get("timestamp"), "data": {"instances": [features]}})
        else:
            lines.append({"request_id": row["request_id"], "timestamp": row.get("timestamp"),
                          "dataframe_records": [features]})
    text = "\n".join(json.dumps(line, allow_nan=True) for line in lines)
    return ".jsonl", text.encode(), sources


@st.composite
def csv_files(draw):
    """Huge integers written out beside NaN, inf and fractions, in a column pandas would read as floats."""
    rows, sources = [], {}
    for i in range(draw(st.integers(1, 8))):
        row = {"request_id": f"r{i}", "age": draw(integer_like), "income": draw(st.sampled_from(["1.5", "nan",
                                                                                              "inf", "-inf", ""])),
               "housing": "own", "count": draw(integer_like)}
        rows.append(row)
        sources[row["request_id"]] = row
    frame = pd.DataFrame(rows).astype(object).map(lambda v: "" if v is None else str(v) if not isinstance(
        v, float) else repr(v))
    return ".csv", frame.to_csv(index=False).encode(), sources


def oracle_integer(value):
    """The whole number a written value means, by Python's own int and Decimal (None: not one)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if np.isfinite(value) and value.is_integer() else None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() else None


@settings(max_examples=1000, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.one_of(parquet_files(), jsonl_files(), csv_files()), st.sampled_from(["max", "recorded"]))
def test_every_type_ends_refused_quarantined_or_exact(tmp_path_factory, file, timing):
    suffix, data, sources = file
    path = tmp_path_factory.mktemp("types") / f"traffic{suffix}"
    path.write_bytes(data)
    chunk_lines, formats.CHUNK_LINES = formats.CHUNK_LINES, 3  # a schema that changes between chunks
    try:
        validated = load_and_validate(path, SPECS)
        send_offsets(timing, len(validated.requests), validated.requests.get("timestamp"))
    except StagingError as exc:
        assert exc.message and "\n" not in exc.message and exc.hint, exc.message
        event(f"refused: {type(exc).__name__}")
        return
    finally:
        formats.CHUNK_LINES = chunk_lines
    requests, quarantine = validated.requests, validated.quarantine
    event("read, rows quarantined" if len(quarantine) else "read clean")
    assert validated.report.rows_valid + validated.report.rows_quarantined == validated.report.rows_read
    ids = requests["request_id"]
    assert ids.map(lambda v: isinstance(v, str) and v.strip() != "").all() and ids.is_unique
    assert not ids.str.match(r"^[\[{]|^array\(").any(), ids.tolist()  # never an id spelled from a list or record
    for spec in SPECS[:2]:  # integers: exactly what the file held, inside the model's type
        bits = 63 if spec.kind == "long" else 31
        for request_id, value in zip(ids, requests[spec.name]):
            if pd.isna(value):
                continue
            assert -(2**bits) <= int(value) < 2**bits, (spec.name, value)
            if sources is not None and request_id in sources and spec.name in sources[request_id]:
                assert int(value) == oracle_integer(sources[request_id][spec.name]), (spec.name, value,
                                                                                     sources[request_id][spec.name])
    assert requests["income"].dropna().map(np.isfinite).all()
    assert requests["housing"].dropna().map(lambda v: isinstance(v, str)).all()
    requests.to_parquet(io.BytesIO(), index=False)  # the run's files can be written
    quarantine.map(cell_text).rename(columns=str).to_parquet(io.BytesIO(), index=False)
    readable(quarantine), readable(requests)  # the page's tables show every cell
