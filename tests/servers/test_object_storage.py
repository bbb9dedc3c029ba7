"""Traffic read where production keeps it: a real S3-compatible server (moto's server mode, which
s3fs's own tests use) started by the test, holding a SageMaker Data Capture hourly tree and
KServe logger objects. A replay reads an `s3://` prefix through the real model servers, lists
only the hours its window needs, records the objects it read (never a credential), and refuses a
missing bucket or an empty prefix in one sentence before anything starts."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from support import ROOT, capture, free_port

from staging import TrafficSelection
from staging.errors import TrafficError
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings

KEY_ID, SECRET = "AKIA-planted-7f3e", "secret-planted-c0ffee-91ab"
BUCKET = "production-captures"
TREE = "capture/credit-default/AllTraffic"


@pytest.fixture(scope="module")
def s3(sandbox):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    saved = {key: os.environ.get(key) for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                   "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID=KEY_ID,
                      AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    features = list(sandbox.prepare_traffic(CREDIT.model_name, CREDIT.file("traffic")).features)
    rows = pd.read_parquet(CREDIT.file("traffic")).dropna().head(60).reset_index(drop=True)
    for hour in (10, 11, 12):  # 20 captures an hour, one object an hour as SageMaker writes them
        part = rows.iloc[(hour - 10) * 20:(hour - 9) * 20]
        lines = [json.dumps(capture(f"ev-{r.request_id}", r.request_id, ",".join(str(getattr(r, f)) for f in features),
                                    "CSV", time=f"2026-10-05T{hour}:{i:02d}:00Z")) for i, r in enumerate(part.itertuples())]
        client.put_object(Bucket=BUCKET, Key=f"{TREE}/2026/10/05/{hour}/capture-{hour}.jsonl",
                          Body=("\n".join(lines) + "\n").encode())
    for r in rows.head(15).itertuples():  # KServe's logger: one request an object, no time inside
        body = {"dataframe_records": [{f: getattr(r, f) for f in features}]}
        client.put_object(Bucket=BUCKET, Key=f"kserve/{r.request_id}.json", Body=json.dumps(body, default=str).encode())
    client.put_object(Bucket=BUCKET, Key="empty/.keep", Body=b"")
    yield f"s3://{BUCKET}"
    server.stop()
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def test_a_prefix_replays_within_its_window_and_the_run_records_the_objects_not_the_keys(sandbox, s3):
    selection = TrafficSelection(start=pd.Timestamp("2026-10-05T10:00:00Z"), end=pd.Timestamp("2026-10-05T11:59:00Z"))
    handle = sandbox.begin_replay(CREDIT.model_name, f"{s3}/{TREE}/", selection, ReplaySettings(warmup_requests=0))
    handle.wait(300)
    manifest = sandbox.store.manifest(handle.run_id)
    assert manifest.status == "finished", manifest.end_reason
    assert manifest.traffic.replayed == 40 and "SageMaker Data Capture" in manifest.traffic.validation
    read = manifest.traffic.remote["traffic"]
    assert read["url"] == f"{s3}/{TREE}/"
    assert [o["key"].rsplit("/", 1)[1] for o in read["objects"]] == ["capture-10.jsonl", "capture-11.jsonl"]
    assert all(o["etag"] and o["size"] > 0 for o in read["objects"])  # hour 12 was never listed
    written = (sandbox.store.folder(handle.run_id) / "manifest.json").read_text()
    assert KEY_ID not in written and SECRET not in written


def test_kserve_logger_objects_take_their_time_from_the_object(sandbox, s3):
    prepared = sandbox.prepare_replay(CREDIT.model_name, f"{s3}/kserve/")
    assert len(prepared.requests) == 15 and prepared.requests["timestamp"].notna().all()
    assert "last-modified" in prepared.validated.report.summary()


@pytest.mark.parametrize("where, words", [("s3://no-such-bucket-7e1/x/", "no such bucket"),
                                          ("{s3}/empty/", "There is no object at"),
                                          ("{s3}/nothing-here/", "There is no object at")])
def test_a_bad_url_is_refused_in_one_sentence_before_anything_starts(sandbox, s3, where, words):
    with pytest.raises(TrafficError) as refused:
        sandbox.prepare_replay(CREDIT.model_name, where.format(s3=s3))
    assert words in str(refused.value) and refused.value.hint


def test_the_command_line_replays_from_s3(sandbox, s3, demo_home):
    out = subprocess.run([sys.executable, "-m", "staging", "replay", "--model", CREDIT.model_name, "--traffic",
                          f"{s3}/{TREE}/2026/10/05/12/capture-12.jsonl", "--home", str(demo_home.root), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["requests"] == 20
    assert SECRET not in out.stdout + out.stderr and KEY_ID not in out.stdout + out.stderr


def test_the_replay_page_reads_a_prefix_from_object_storage(sandbox, finished_run, s3, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from staging.ui import PAGES

    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    app.session_state["staging.model_name"] = CREDIT.model_name
    app.run()
    app.switch_page(PAGES["replay"]).run()
    next(r for r in app.radio if r.label == "Traffic").set_value("From object storage").run()
    next(t for t in app.text_input if t.label.startswith("Traffic URL")).set_value(f"{s3}/kserve/").run()
    assert not app.exception, [e.value for e in app.exception]
    shown = " ".join(m.value for m in [*app.success, *app.warning]).replace("\\", "")  # as read, not escaped
    assert "15 rows read: 15 valid" in shown and "last-modified" in shown and KEY_ID not in shown


def test_the_pipeline_bench_in_its_quick_mode_prints_every_key():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "pipeline.py"), "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ["s3_read_1m_rows_s", "local_read_1m_rows_s", "webhook_to_verdict_s"]
    assert [key for key in keys if key not in figures] == [] and figures["s3_read_1m_rows_s"] > 0
    assert figures["webhook_to_verdict_s"] > 0 and figures["webhook_timeline"]["delivered"] < figures["webhook_to_verdict_s"]


def test_a_bucket_the_credentials_may_not_read_is_refused_in_one_sentence(tmp_path, sandbox):
    """moto's server with IAM enforced (after its first four unauthenticated calls, which make the
    bucket, a user with no policy and that user's key): the user's key is denied, in one line."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "setup", "AWS_SECRET_ACCESS_KEY": "setup"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3
        from support import wait_until_up

        endpoint = f"http://127.0.0.1:{port}"
        wait_until_up(f"{endpoint}/moto-api/", 60)
        setup = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
                 "aws_secret_access_key": "setup"}
        boto3.client("s3", **setup).create_bucket(Bucket="locked")
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        denied = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"], "AWS_DEFAULT_REGION": "us-east-1"}
        out = subprocess.run([sys.executable, "-m", "staging", "replay", "--home", str(sandbox.home.root), "--model",
                              CREDIT.model_name, "--traffic", "s3://locked/captures/", "--backend", "process"],
                             env=denied, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert out.returncode == 2, out.stderr[-2000:]
    [line] = [text for text in out.stderr.splitlines() if text.startswith("error:")]
    assert "Access to s3://locked/captures/ was denied" in line and "Traceback" not in out.stderr
    assert key["SecretAccessKey"] not in out.stdout + out.stderr
