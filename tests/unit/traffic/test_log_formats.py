"""One test per row of the README's table of what each format accepts, with records in the
shape each platform documents: KServe's logger in every form a receiver writes (binary mode
with `ce-*` headers and a body, flat `ce-*` keys, structured with `data_base64`), V2 `inputs`
as an [n, k] tensor with nested data or a tensor per column of shape [n, 1], and MLflow payload
logs from before 2.0 (`pandas-split`, `pandas-records`)."""

import base64
import json

import pytest

from staging.traffic import FeatureSpec, load_and_validate
from staging.traffic.formats import detect_log_format

COLUMNS = ["age", "income", "city"]
SPECS = [FeatureSpec("age", "long"), FeatureSpec("income", "double"), FeatureSpec("city", "string")]
V1_BODY = {"instances": [{"age": 30, "income": 1.5, "city": "x"}, {"age": 40, "income": 2.5, "city": "y"}]}
HEADERS = {"ce-specversion": "1.0", "ce-id": "req-1", "ce-type": "org.kubeflow.serving.inference.request",
           "ce-source": "http://localhost:9081/", "ce-time": "2026-10-05T10:00:00Z",
           "ce-inferenceservicename": "credit", "content-type": "application/json"}
RESPONSE_HEADERS = {**HEADERS, "ce-type": "org.kubeflow.serving.inference.response", "ce-id": "req-1"}

FORMS = {
    "kserve binary mode: ce-* headers and a body": [
        {"headers": HEADERS, "body": V1_BODY},
        {"headers": RESPONSE_HEADERS, "body": {"predictions": [0, 1]}}],
    "kserve binary mode: the body as JSON text": [{"headers": HEADERS, "body": json.dumps(V1_BODY)}],
    "kserve flat ce-* keys": [{**HEADERS, "data": V1_BODY}],
    "kserve structured, data_base64": [
        {"specversion": "1.0", "id": "req-1", "type": "org.kubeflow.serving.inference.request",
         "source": "http://localhost:9081/", "time": "2026-10-05T10:00:00Z", "datacontenttype": "application/json",
         "data_base64": base64.b64encode(json.dumps(V1_BODY).encode()).decode()}],
    "kserve v2 inputs, one [n, k] tensor with nested data": [
        {"specversion": "1.0", "id": "req-1", "type": "org.kubeflow.serving.inference.request",
         "time": "2026-10-05T10:00:00Z",
         "data": {"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "BYTES",
                              "data": [[30, 1.5, "x"], [40, 2.5, "y"]]}]}}],
    "kserve v2 inputs, a tensor per column of shape [n, 1]": [
        {"specversion": "1.0", "id": "req-1", "type": "org.kubeflow.serving.inference.request",
         "time": "2026-10-05T10:00:00Z",
         "data": {"inputs": [{"name": "age", "shape": [2, 1], "datatype": "INT64", "data": [[30], [40]]},
                             {"name": "income", "shape": [2, 1], "datatype": "FP64", "data": [1.5, 2.5]},
                             {"name": "city", "shape": [2, 1], "datatype": "BYTES", "data": ["x", "y"]}]}}],
    "mlflow before 2.0: pandas-split": [
        {"request_id": "req-1", "content_type": "application/json; format=pandas-split",
         "body": {"columns": COLUMNS, "data": [[30, 1.5, "x"], [40, 2.5, "y"]]}}],
    "mlflow before 2.0: pandas-records": [
        {"request_id": "req-1", "content_type": "application/json; format=pandas-records",
         "body": [{"age": 30, "income": 1.5, "city": "x"}, {"age": 40, "income": 2.5, "city": "y"}]}],
}
EXPECTED_FORMAT = {name: "mlflow-payload" if name.startswith("mlflow") else "kserve-cloudevents" for name in FORMS}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_documented_form_reads_into_the_same_two_requests(tmp_path, form):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in FORMS[form]))
    assert detect_log_format(path) == EXPECTED_FORMAT[form]
    validated = load_and_validate(path, SPECS)
    assert validated.report.rows_quarantined == 0, validated.report.reasons
    requests = validated.requests
    assert requests["age"].tolist() == [30, 40] and requests["income"].tolist() == [1.5, 2.5]
    assert requests["city"].tolist() == ["x", "y"]
    assert requests["request_id"].tolist() == ["req-1#0", "req-1#1"]  # one request of two rows


@pytest.mark.parametrize("head, words", [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a PNG image, not CSV text"),
                                         (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xff\xfe", "is a ZIP archive"),
                                         (b"a,b\n1,\xff\xfe\n", "is not UTF-8 text")])
def test_a_binary_file_under_a_csv_name_is_named_for_what_it_is(tmp_path, head, words):
    from staging.errors import TrafficError

    path = tmp_path / "traffic.csv"
    path.write_bytes(head + bytes(range(128, 256)) * 4)
    with pytest.raises(TrafficError) as refused:
        load_and_validate(path, [FeatureSpec("a", "double"), FeatureSpec("b", "double")])
    assert words in refused.value.message and "`" not in str(refused.value)
