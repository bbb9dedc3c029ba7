"""Request logs as serving platforms write them: MLflow payloads, SageMaker Data Capture and
KServe CloudEvents, detected, read into rows, validated, and joined with ground truth."""

import base64
import json

import pandas as pd
import pytest
from support import capture, write_lines

from staging.traffic import FeatureSpec, load_traffic, validate_traffic
from staging.traffic import formats as request_logs
from staging.traffic.formats import (
    MALFORMED_LINE,
    REQUEST_GROUP,
    detect_log_format,
    merge_ground_truth,
    read_ground_truth,
    read_request_log,
)

COLUMNS = ["age", "income", "city"]
SPECS = [FeatureSpec("age", "long"), FeatureSpec("income", "double"), FeatureSpec("city", "string")]


def test_mlflow_payloads_in_every_shape_one_or_many_rows(tmp_path):
    path = write_lines(tmp_path / "log.jsonl", [
        {"request_id": "a", "timestamp": "2026-10-05T10:00:00Z",
         "body": {"dataframe_split": {"columns": COLUMNS, "data": [[30, 1.5, "x"], [40, 2.5, "y"]]}}},
        {"id": "b", "dataframe_records": [{"age": 50, "income": 3.5, "city": "z"}]},
        {"id": "c", "instances": [{"age": 60, "income": 4.5, "city": "x"}]},
        {"id": "d", "inputs": {"age": [70], "income": [5.5], "city": ["y"]}},
        {"id": "e", "request": json.dumps({"instances": [[80, 6.5, "z"]]})},
    ])
    assert detect_log_format(path) == "mlflow-payload"
    frame, fmt = read_request_log(path, COLUMNS)
    assert fmt == "mlflow-payload"
    assert frame["request_id"].tolist() == ["a#0", "a#1", "b", "c", "d", "e"]
    assert frame["age"].tolist() == [30, 40, 50, 60, 70, 80]
    assert frame.loc[0, REQUEST_GROUP] == frame.loc[1, REQUEST_GROUP] != frame.loc[2, REQUEST_GROUP]
    assert str(frame.loc[0, "timestamp"]) == "2026-10-05 10:00:00+00:00"


def test_sagemaker_capture_csv_json_and_base64_with_ground_truth(tmp_path):
    path = write_lines(tmp_path / "capture.jsonl", [
        capture("e1", "i1", "30,1.5,x", "CSV"),
        capture("e2", None, "40,2.5,y\n41,2.6,y", "CSV"),
        capture("e3", "i3", json.dumps({"instances": [{"age": 50, "income": 3.5, "city": "z"}]}), "JSON",
                "application/json"),
        capture("e4", "i4", base64.b64encode(b"60,4.5,x").decode(), "BASE64"),
        capture("e5", "i5", "70,5.5", "CSV"),  # two values for three signature columns
    ])
    assert detect_log_format(path) == "sagemaker-capture"
    frame, _ = read_request_log(path, COLUMNS)
    good = frame[frame[MALFORMED_LINE].isna()] if MALFORMED_LINE in frame else frame
    assert good["request_id"].tolist() == ["i1", "e2#0", "e2#1", "i3", "i4"]
    assert good["city"].tolist() == ["x", "y", "y", "z", "x"]
    result = validate_traffic(load_traffic(path, COLUMNS), SPECS)
    assert result.report.source_format == "SageMaker Data Capture (JSON Lines)"
    assert "Read as SageMaker Data Capture" in result.report.summary()
    assert result.report.rows_valid == 5 and result.report.rows_quarantined == 1
    assert result.requests["age"].tolist() == [30, 40, 41, 50, 60]
    assert "3 columns" in result.quarantine["quarantine_reason"].iloc[0]

    truth_path = write_lines(tmp_path / "truth.jsonl", [
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "e1", "inferenceId": "i1"}},
        {"groundTruthData": {"data": "0", "encoding": "CSV"}, "eventMetadata": {"eventId": "e2"}},
        {"groundTruthData": {"data": base64.b64encode(b"1").decode(), "encoding": "BASE64"},
         "eventMetadata": {"eventId": "e4", "inferenceId": "i4"}},
    ])
    truth = read_ground_truth(truth_path, "default")
    labels = merge_ground_truth(good, truth, "default").set_index("request_id")["default"].to_dict()
    # on inferenceId, else on eventId; numbers written as text read as numbers
    assert labels == {"i1": 1, "i4": 1, "e2#0": 0, "e2#1": 0}


def test_kserve_cloudevents_v1_and_v2_responses_skipped(tmp_path):
    path = write_lines(tmp_path / "kserve.jsonl", [
        {"specversion": "1.0", "id": "k1", "type": "org.kubeflow.serving.inference.request", "source": "credit",
         "time": "2026-10-05T10:00:00Z", "data": {"instances": [[30, 1.5, "x"]]}},
        {"specversion": "1.0", "id": "k1", "type": "org.kubeflow.serving.inference.response", "source": "credit",
         "data": {"predictions": [0]}},
        {"specversion": "1.0", "id": "k2", "type": "org.kubeflow.serving.inference.request", "source": "credit",
         "time": "2026-10-05T10:00:01Z",
         "data": {"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [40]},
                             {"name": "income", "shape": [1], "datatype": "FP64", "data": [2.5]},
                             {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["y"]}]}},
    ])
    assert detect_log_format(path) == "kserve-cloudevents"
    result = validate_traffic(load_traffic(path, COLUMNS), SPECS)
    assert result.report.source_format == "KServe request log (CloudEvents)"
    assert result.requests["request_id"].tolist() == ["k1", "k2"]
    assert result.requests["income"].tolist() == [1.5, 2.5]


def test_logs_are_read_in_chunks_with_the_same_result(tmp_path, monkeypatch):
    records = [{"id": f"r{i}", "dataframe_records": [{"age": i, "income": i / 2, "city": "x"}]} for i in range(50)]
    path = write_lines(tmp_path / "log.jsonl", records + ["{broken"])
    whole, _ = read_request_log(path, COLUMNS)
    monkeypatch.setattr(request_logs, "CHUNK_LINES", 7)
    chunked, _ = read_request_log(path, COLUMNS)
    pd.testing.assert_frame_equal(whole, chunked)
    assert chunked[MALFORMED_LINE].notna().sum() == 1


@pytest.mark.parametrize("record, expected", [
    ({"age": 1, "income": 2.0, "city": "x"}, "records"),
    ({"payload": {"dataframe_split": {"columns": [], "data": []}}}, "mlflow-payload"),
    ({"groundTruthData": {"data": "1"}}, "sagemaker-capture"),
    ({"specversion": "1.0", "data": {}}, "kserve-cloudevents"),
])
def test_the_format_is_detected_from_the_first_record(record, expected):
    assert request_logs.record_format(record) == expected




def test_a_log_validated_in_chunks_equals_one_validated_whole(tmp_path, monkeypatch):
    from staging.traffic import load_and_validate

    records = [{"id": f"r{i}", "dataframe_records": [{"age": i, "income": "n/a" if i % 7 == 0 else i / 2,
                                                       "city": "x" if i % 2 else "y"}]} for i in range(60)]
    path = write_lines(tmp_path / "log.jsonl", records + ["{broken"])
    whole = validate_traffic(load_traffic(path, COLUMNS), SPECS)
    monkeypatch.setattr(request_logs, "CHUNK_LINES", 8)
    chunked = load_and_validate(path, SPECS)
    pd.testing.assert_frame_equal(whole.requests, chunked.requests, check_dtype=False)
    assert chunked.report == whole.report
    assert len(chunked.quarantine) == len(whole.quarantine) == 10
