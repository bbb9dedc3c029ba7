"""Every file a user brings ends one of three ways, never another: refused with a `StagingError`
in one line (what was wrong) and a hint (what to do); or read, with each unreadable row
quarantined with its reason; and what is accepted is never garbage: numbers finite, integers
inside 64 bits, ids unique, times plausible. Hypothesis makes 1,000 malformed files per run
across CSV, Parquet and JSON Lines (MLflow payloads, SageMaker Data Capture, KServe
CloudEvents, plain records), plain and gzip-compressed, truncated, mis-encoded and mislabelled."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staging.errors import StagingError
from staging.traffic import FeatureSpec, load_and_validate

SPECS = [FeatureSpec("age", "long"), FeatureSpec("income", "double"), FeatureSpec("housing", "string", False),
         FeatureSpec("member", "boolean", False)]
COLUMNS = [s.name for s in SPECS]
GOOD = {"age": 30, "income": 1000.5, "housing": "own", "member": True}

odd_values = st.one_of(
    st.none(), st.just(""), st.text(max_size=6), st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["inf", "-Infinity", "NaN", "1,5", "12,5k"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.booleans(), st.integers(min_value=-(2**70), max_value=2**70))
odd_ids = st.one_of(st.sampled_from(["a", "b", "a"]), st.integers(0, 3), st.none(), st.just({"x": 1}), st.just([1]))
odd_times = st.one_of(st.sampled_from(["2026-10-01T08:00:00Z", "-0001-01-01", "9999-12-31", "notadate", "",
                                       "2026-13-45"]), st.floats(allow_nan=False, allow_infinity=False), st.none())


@st.composite
def records(draw):
    record = dict(GOOD)
    for key in COLUMNS:
        if draw(st.booleans()):
            record[key] = draw(odd_values)
    if draw(st.booleans()):
        record.pop(draw(st.sampled_from(COLUMNS)), None)
    if draw(st.booleans()):
        record["request_id"] = draw(odd_ids)
    if draw(st.booleans()):
        record["timestamp"] = draw(odd_times)
    return record


def dump(value) -> str:
    return json.dumps(value, allow_nan=True, default=str)


@st.composite
def log_lines(draw):
    record = draw(records())
    shapes = [
        lambda: dump(record),
        lambda: dump({"dataframe_split": {"columns": COLUMNS, "data": [[record.get(c) for c in COLUMNS]]},
                      "request_id": record.get("request_id")}),
        lambda: dump({"dataframe_split": draw(st.sampled_from([[1, 2], "text", None, {"columns": "x"}, {"data": 5}]))}),
        lambda: dump({"dataframe_records": draw(st.sampled_from([[1, 2], [record], "text", None, [[1]]]))}),
        lambda: dump({"instances": draw(st.sampled_from([[record], [[1, 2]], None, 5, "x"]))}),
        lambda: dump({"inputs": draw(st.sampled_from([{"age": [1, 2], "income": [1]}, [{"name": "age"}], 7]))}),
        lambda: dump({"captureData": {"endpointInput": draw(st.sampled_from([
            {"data": "30,1000.5,own,true", "encoding": "CSV"}, {"data": "30, 1000.5, own", "encoding": "CSV"},
            {"data": dump({"instances": [record]}), "encoding": "JSON"}, None, "x", {"encoding": "JSON"},
            {"data": 5, "encoding": "BASE64"}, {"data": "!!notbase64", "encoding": "BASE64"}]))},
            "eventMetadata": draw(st.sampled_from([{"eventId": "e1", "inferenceId": "i1",
                                                    "inferenceTime": "2026-10-01T00:00:00Z"},
                                                   None, "text", {"eventId": {"a": 1}}, {"inferenceId": [1]}])),
            "eventVersion": "0"}),
        lambda: dump({"specversion": "1.0", "id": "ce-1", "type": "org.kubeflow.serving.inference.request",
                      "data": draw(st.sampled_from([{"instances": [record]}, None, "text", [1], "{\"x\": 1}",
                                                    {"inputs": [{"name": "age", "shape": [1], "datatype": "INT64",
                                                                 "data": [30]}]}]))}),
        lambda: "[" * draw(st.sampled_from([1, 60, 100_000])),
        lambda: draw(st.sampled_from(["[1, 2, 3]", "null", "\"text\"", "{not json", "\x00\x01"])),
    ]
    return draw(st.sampled_from(shapes))()


KINDS = ["jsonl", "jsonl.gz", "csv", "csv.gz", "parquet", "not-gzip", "truncated-gzip", "latin-1", "utf-16",
         "binary", "corrupt-parquet"]


@st.composite
def files(draw):
    kind = draw(st.sampled_from(KINDS))
    rows = draw(st.lists(records(), min_size=1, max_size=5))
    if kind in ("jsonl", "jsonl.gz", "latin-1", "not-gzip"):
        text = "\n".join(draw(st.lists(log_lines(), min_size=1, max_size=6)))
        data = {"jsonl": text.encode(), "jsonl.gz": gzip.compress(text.encode()), "not-gzip": text.encode(),
                "latin-1": text.encode("utf-8", "replace") + "\nâge: é".encode("latin-1")}[kind]
        suffix = ".jsonl.gz" if kind in ("jsonl.gz", "not-gzip") else ".jsonl"
        return suffix, data
    if kind == "binary":
        return draw(st.sampled_from([".jsonl", ".csv", ".parquet"])), draw(st.binary(min_size=1, max_size=64))
    if kind == "corrupt-parquet":
        return ".parquet", b"PAR1" + draw(st.binary(max_size=32)) + b"PAR1"
    table = pd.DataFrame(rows)
    if kind == "parquet":
        for column in table.columns:  # Parquet needs one type a column: keep lists (a nested column), else text
            if table[column].dtype == object:
                table[column] = table[column].map(lambda v: v if isinstance(v, list) or v is None else str(v))
        try:
            return ".parquet", table.to_parquet()
        except Exception:  # noqa: BLE001 - a table pyarrow cannot write: test the corrupt file instead
            return ".parquet", b"PAR1junk"
    text = table.to_csv(index=False)
    if kind == "utf-16":
        return ".csv", text.encode("utf-16")
    compressed = gzip.compress(text.encode())
    return {"csv": (".csv", text.encode()), "csv.gz": (".csv.gz", compressed),
            "truncated-gzip": (".csv.gz", compressed[: max(len(compressed) // 2, 1)])}[kind]


def assert_not_garbage(requests: pd.DataFrame) -> None:
    assert requests["request_id"].is_unique
    assert requests["request_id"].notna().all()
    for spec in SPECS:
        values = requests[spec.name]
        if spec.kind in ("long", "double"):
            numbers = pd.to_numeric(values, errors="coerce")
            assert numbers.notna().sum() == values.notna().sum(), spec.name
            assert np.isfinite(numbers.dropna()).all(), spec.name
            if spec.kind == "long":
                exact = values.dropna().map(int)  # whole numbers, exactly, inside a signed 64-bit integer
                assert exact.map(lambda v: -(2**63) <= v < 2**63).all(), spec.name
    for spec in SPECS:  # a text input holds one text value, never a list or a record
        if spec.kind == "string":
            assert requests[spec.name].dropna().map(lambda v: isinstance(v, str)).all(), spec.name
    times = requests["timestamp"].dropna()
    if len(times):
        assert (times >= pd.Timestamp("1970-01-01", tz="UTC")).all() and (times < pd.Timestamp("2100-01-01",
                                                                                               tz="UTC")).all()


@settings(max_examples=1000, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(files())
def test_every_file_is_refused_in_one_line_or_read_with_reasons(tmp_path_factory, file):
    suffix, data = file
    path = tmp_path_factory.mktemp("fuzz") / f"traffic{suffix}"
    path.write_bytes(data)
    try:
        validated = load_and_validate(path, SPECS)
    except StagingError as exc:
        assert exc.message and "\n" not in exc.message and exc.hint, (suffix, exc.message)
        return
    report = validated.report
    assert report.rows_valid + report.rows_quarantined == report.rows_read
    assert len(validated.requests) == report.rows_valid
    if report.rows_quarantined:
        reasons = validated.quarantine["quarantine_reason"]
        assert reasons.str.len().gt(0).all() and sum(report.reasons.values()) == report.rows_quarantined
    assert_not_garbage(validated.requests)


@pytest.mark.parametrize("value, accepted", [(2**63 - 1, True), (2**63, False), (-(2**63) - 1, False),
                                             (2**53, True), (float("inf"), False), ("-Infinity", False)])
def test_integers_past_64_bits_and_infinities_are_quarantined(tmp_path, value, accepted):
    path = tmp_path / "t.jsonl"
    path.write_text(dump({**GOOD, "age": value, "request_id": "a"}) + "\n" + dump({**GOOD, "request_id": "b"}) + "\n")
    validated = load_and_validate(path, SPECS)
    assert validated.report.rows_valid == (2 if accepted else 1)


def test_duplicate_request_ids_are_quarantined_and_counted(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(dump({**GOOD, "request_id": rid}) + "\n" for rid in ["a", "b", "a", "a"]))
    validated = load_and_validate(path, SPECS)
    assert list(validated.requests["request_id"]) == ["a", "b"]
    assert validated.report.rows_quarantined == 2
    assert any("same id as an earlier request" in reason for reason in validated.report.reasons)


def test_a_large_parquet_file_is_sampled_while_it_is_read(tmp_path, monkeypatch):
    from staging.traffic import validation

    monkeypatch.setattr(validation, "SAMPLE_WHILE_READING_FROM", 10_000)  # "large" at a test's size
    rows = 40_000
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(rows)], "age": np.arange(rows) % 90,
                          "income": 1000.0, "housing": "own", "member": True})
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, row_group_size=5_000)
    sampled = load_and_validate(path, SPECS, sample_rows=100)
    assert sampled.report.rows_in_file == rows and sampled.report.rows_read == 100 * 2 + 1000
    assert "sample of 1,200 of its 40,000 rows" in sampled.report.summary()
    ids = sampled.requests["request_id"].str[1:].astype(int)
    assert ids.is_monotonic_increasing and ids.max() > rows * 0.9  # from across the whole file, in its order
    whole = load_and_validate(path, SPECS)
    assert whole.report.rows_in_file is None and whole.report.rows_read == rows
    monkeypatch.setattr(validation, "SAMPLE_WHILE_READING_FROM", 1_000_000)
    small = load_and_validate(path, SPECS, sample_rows=100)  # below the threshold: read and reported whole
    assert small.report.rows_in_file is None and small.report.rows_read == rows


def test_the_stated_limits_refuse_with_a_message(tmp_path, monkeypatch):
    from staging.traffic import formats, validation

    monkeypatch.setattr(formats, "MAX_LINE_CHARS", 200)
    path = tmp_path / "t.jsonl"
    path.write_text(dump({**GOOD, "request_id": "a"}) + "\n" + dump({**GOOD, "request_id": "b", "pad": "x" * 500})
                    + "\n")
    validated = load_and_validate(path, SPECS)
    assert validated.report.rows_valid == 1 and any("longer than" in r for r in validated.report.reasons)
    monkeypatch.setattr(validation, "MAX_FILE_BYTES", 10)
    with pytest.raises(StagingError, match="reads traffic files of up to"):
        load_and_validate(path, SPECS)


def test_a_list_or_record_is_not_one_text_value(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(dump({**GOOD, "request_id": rid, "housing": value}) + "\n"
                            for rid, value in (("a", [1, 2]), ("b", "own"), ("c", "rent"), ("d", {"k": 1}),
                                               ("e", "own"))))
    validated = load_and_validate(path, SPECS)
    assert validated.requests["request_id"].tolist() == ["b", "c", "e"]
    assert validated.report.reasons == {"housing: not a valid string": 2}
