"""The comparison that runs itself, against a real MLflow tracking server (sqlite store, webhooks
on) and the watcher as its own process on loopback, on the process backend: a new @challenger
gets a verdict tag, a report and a `gated` audit record with no human step and no alias moved;
forged, stale and malformed deliveries are refused and a redelivery runs once; a burst of five
ends with the newest compared and the rest superseded; a watcher killed mid-run finishes its
queue after a restart; the schedule compares the current pair and Overview shows the series."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from mlflow.tracking import MlflowClient
from support import ROOT, free_port, wait_until_up

from staging import Sandbox, SandboxHome, Settings
from staging.registry.scenarios import SCENARIOS
from staging.watch import sign

pytestmark = pytest.mark.servers
SECRET = "watcher-test-" + uuid.uuid4().hex
MODEL = "credit-default"
TRAFFIC = str(SCENARIOS["credit"].file("traffic"))


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """MLflow's tracking server with what webhooks to a loopback receiver need, and the demo registered."""
    root = tmp_path_factory.mktemp("watch")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
           "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "MLFLOW_WEBHOOK_CACHE_TTL": "1"}  # the demo's own events cached "no webhook" for 60 s otherwise
    log = open(root / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--artifacts-destination",
                               str(root / "artifacts"), "--serve-artifacts", "--workers", "1"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(f"{uri}/health", 120, log=root / "server.log")
        home = root / "home"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("STAGING_TRACKING_URI", uri)
            Sandbox(SandboxHome.from_env(home), backend="process", settings=Settings.from_env()).load_demo()
        yield {"uri": uri, "root": root, "home": home, "client": MlflowClient(uri, uri)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


class Hook(BaseHTTPRequestHandler):
    """A stand-in for Slack's incoming webhook on loopback: keeps each JSON body it is sent."""

    received: list[dict] = []

    def do_POST(self) -> None:
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/{uuid.uuid4().hex}"
    server.shutdown()


class WatcherProcess:
    def __init__(self, tracking: dict, home: Path, *extra: str, notify: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log_path = home.parent / f"watcher-{self.port}.log"
        self.args = [sys.executable, "-m", "staging", "watch", "--home", str(home), "--model", MODEL,
                     "--traffic", TRAFFIC, "--requests", "200", "--backend", "process", "--port", str(self.port),
                     "--settle", "2s", "--register", *extra]
        self.env = {**os.environ, "STAGING_TRACKING_URI": tracking["uri"], "STAGING_WEBHOOK_SECRET": SECRET}
        if notify:
            self.env["STAGING_NOTIFY_URL"] = notify
        self.start()

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_until_up(f"{self.url}/health", 120, log=self.log_path)

    def jobs(self) -> list[dict]:
        return requests.get(f"{self.url}/jobs", timeout=5).json()

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def watcher(tracking, hook):
    process = WatcherProcess(tracking, tracking["home"], notify=hook)
    yield process
    process.stop()


def new_challenger(client: MlflowClient, set_alias: bool = True) -> str:
    """What a training pipeline does: register a version (here v2's files again) and point @challenger at it."""
    source = client.get_model_version(MODEL, "2")
    version = client.create_model_version(MODEL, source.source, run_id=source.run_id,
                                          model_id=source.source.removeprefix("models:/")).version
    if set_alias:
        client.set_registered_model_alias(MODEL, "challenger", str(version))
    return str(version)


def tags_of(client: MlflowClient, version: str) -> dict[str, str]:
    return dict(client.get_model_version(MODEL, version).tags)


def wait_for_verdict(client: MlflowClient, version: str, watcher: WatcherProcess, timeout_s: float = 420) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tags = tags_of(client, version)
        if "sandbox.verdict" in tags:
            return tags
        time.sleep(1)
    pytest.fail(f"v{version} got no verdict within {timeout_s:.0f} s:\n{watcher.text()[-4000:]}")


def finished_job(watcher: WatcherProcess, version: str) -> dict:
    """The version's last job once it has ended (the tags are written just before the queue records it)."""
    for _ in range(60):
        job = [j for j in watcher.jobs() if j["version"] == version][-1]
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    return job


def post(watcher: WatcherProcess, body: str, delivery_id: str | None = None, stamp: int | None = None,
         secret: str | None = SECRET) -> requests.Response:
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id,
               "X-MLflow-Timestamp": str(stamp)}
    if secret is not None:
        headers["X-MLflow-Signature"] = sign(secret, delivery_id, str(stamp), body)
    return requests.post(f"{watcher.url}/webhook", data=body.encode(), headers=headers, timeout=10)


def alias_event(version: str) -> str:
    return json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-12-05T00:00:00Z",
                       "data": {"name": MODEL, "alias": "challenger", "version": version}})


def test_a_new_challenger_gets_a_verdict_tag_a_report_and_a_gated_record_with_no_human_step(tracking, watcher, hook):
    client = tracking["client"]
    champion_before = client.get_model_version_by_alias(MODEL, "champion").version
    began = time.monotonic()
    version = new_challenger(client)
    tags = wait_for_verdict(client, version, watcher)
    took = time.monotonic() - began
    assert tags["sandbox.verdict"] in {"passed", "warned", "failed", "not yet"}, tags
    assert tags["sandbox.verdict.reason"] and tags["sandbox.run"]
    assert tags["sandbox.report"].endswith("report.html")
    box = Sandbox(SandboxHome(tracking["home"], tracking["uri"]), backend="process")
    manifest = box.run(tags["sandbox.run"])
    assert (manifest.champion.version, manifest.challenger.version) == (champion_before, version)
    assert manifest.status == "finished"
    gated = [r for r in box.audit(MODEL) if r.action == "gated"]
    assert gated and gated[-1].to_version == version and gated[-1].run_id == manifest.run_id
    assert gated[-1].reviewer == "watcher" and gated[-1].gate_status == tags["sandbox.verdict"]
    assert box.verify_audit().ok
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion_before  # never promotes
    assert (box.store.folder(manifest.run_id) / "report.html").exists()
    [point] = [p for p in box.verdict_series(MODEL) if p.challenger == version]
    assert point.trigger == "webhook" and point.status == tags["sandbox.verdict"]
    [posted] = [m for m in Hook.received if m["challenger"] == version]  # the outgoing hook heard it
    assert posted["verdict"] == tags["sandbox.verdict"] and posted["run"] == manifest.run_id
    assert version in posted["text"] and SECRET not in json.dumps(posted)
    assert hook.rsplit("/", 1)[-1] not in watcher.text()  # the hook's URL is its secret: never logged
    print(f"webhook to verdict: {took:.1f} s")


def test_forged_stale_and_malformed_deliveries_are_refused_and_a_redelivery_runs_once(tracking, watcher):
    body = alias_event("2")
    assert post(watcher, body, secret=None).status_code == 401
    assert post(watcher, body, secret="not-the-secret-" + uuid.uuid4().hex).status_code == 401
    assert post(watcher, body, stamp=int(time.time()) - 3600).status_code == 400
    assert post(watcher, "{not json").status_code == 400
    assert post(watcher, json.dumps({"data": "no entity"})).status_code == 400
    ignored = post(watcher, json.dumps({"entity": "model_version_alias", "action": "created",
                                        "data": {"name": "some-other-model", "alias": "challenger", "version": "1"}}))
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    delivery = str(uuid.uuid4())
    first, again = post(watcher, body, delivery), post(watcher, body, delivery)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert [j["delivery_id"] for j in watcher.jobs()].count(delivery) == 1
    text = watcher.text()
    assert "refused (401)" in text and "refused (400)" in text and "seen before" in text
    assert SECRET not in text


def test_a_challenger_that_cannot_be_served_is_tagged_error_and_the_watcher_goes_on(tracking, watcher, tmp_path):
    """Its own requirements name a package that does not exist: its environment cannot be made."""
    import mlflow

    client = tracking["client"]
    mlflow.set_tracking_uri(tracking["uri"])
    files = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/2", dst_path=str(tmp_path / "broken")))
    with open(files / "requirements.txt", "a") as requirements:
        requirements.write("\nno-such-package-staging-sandbox-test==0.0.1\n")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(files), "model")
    version = str(client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id).version)
    client.set_registered_model_alias(MODEL, "challenger", version)
    tags = wait_for_verdict(client, version, watcher)
    assert tags["sandbox.verdict"] == "error"
    assert "no-such-package-staging-sandbox-test" in tags["sandbox.verdict.reason"], tags
    assert finished_job(watcher, version)["state"] == "error"


def test_a_burst_of_five_versions_ends_with_the_newest_compared_and_the_rest_superseded(tracking, watcher):
    client = tracking["client"]
    versions = [new_challenger(client) for _ in range(5)]
    tags = wait_for_verdict(client, versions[-1], watcher)
    assert tags["sandbox.verdict"] != "error", tags
    assert finished_job(watcher, versions[-1])["state"] == "done"
    jobs = {j["version"]: j for j in watcher.jobs() if j["trigger"] == "webhook"}
    for version in versions[:-1]:
        assert jobs[version]["state"] == "superseded", jobs[version]
        assert "sandbox.verdict" not in tags_of(client, version)
    assert all(j["state"] in ("done", "superseded", "error") for j in watcher.jobs())  # the redelivered one too


def test_a_watcher_killed_mid_run_finishes_its_queue_after_a_restart(tracking, watcher):
    client = tracking["client"]
    version = new_challenger(client)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = [j for j in watcher.jobs() if j["version"] == version and j["state"] == "running" and j["run_id"]]
        if running:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"v{version} never started:\n{watcher.text()[-3000:]}")
    watcher.kill()
    watcher.start()
    tags = wait_for_verdict(client, version, watcher)
    assert tags["sandbox.verdict"] != "error", tags
    job = finished_job(watcher, version)
    assert job["state"] == "done" and job["attempts"] == 2
    assert tags["sandbox.run"] != running[0]["run_id"]  # a new run; the interrupted one reads as failed
    assert "was interrupted; queued again" in watcher.text()


def test_the_schedule_compares_the_current_pair_and_overview_shows_the_series(tracking, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home = tmp_path / "scheduled"
    scheduled = WatcherProcess(tracking, home, "--every", "24h")
    try:
        challenger = tracking["client"].get_model_version_by_alias(MODEL, "challenger").version
        deadline = time.monotonic() + 420
        series: list = []
        while not series and time.monotonic() < deadline:
            series = Sandbox(SandboxHome(home, tracking["uri"]), backend="process").verdict_series(MODEL)
            time.sleep(1)
        assert [p.trigger for p in series] == ["schedule"], scheduled.text()[-3000:]
        assert series[0].challenger == challenger and series[0].status != "error", series
        assert tags_of(tracking["client"], challenger)["sandbox.run"] == series[0].run_id
    finally:
        scheduled.stop()
    monkeypatch.setenv("STAGING_HOME", str(home))
    monkeypatch.setenv("STAGING_TRACKING_URI", tracking["uri"])
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    app.session_state["staging.model_name"] = MODEL
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "What the watcher found" in [h.value for h in app.subheader]
    frames = [frame.value for frame in app.dataframe]
    table = next(frame for frame in frames if "verdict" in frame.columns and "run" in frame.columns)
    assert table["verdict"].tolist() == [series[0].status]
    assert series[0].run_id in table["run"].iloc[0]
