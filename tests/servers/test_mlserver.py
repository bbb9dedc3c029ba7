"""MLServer as a second real runtime and V2 as a second protocol: a shadow replay with the
champion on MLflow's scoring server and the challenger on MLServer gives, for both, the answers
of MLflow's own `pyfunc.predict` on the same rows; the same with both on MLServer given to the
endpoint backend by KServe-style V2 URLs, in batch mode too; both runs explained through the V2
servers, each model's attributions summing to its own answer; and a V2 endpoint whose metadata
disagrees with the traffic is refused before any request, naming the columns."""

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from staging import ReplaySettings, Sandbox, SandboxHome, TrafficSelection
from staging.backends.process import ProcessBackend
from staging.errors import TrafficError
from staging.registry.client import configure_mlflow
from staging.registry.scenarios import CREDIT, DELIVERY
from staging.roles import CHALLENGER, CHAMPION, ROLES


def local_predictions(home, uri: str, requests: pd.DataFrame) -> pd.DataFrame:
    configure_mlflow(home)
    model = mlflow.pyfunc.load_model(uri)
    out = model.predict(requests[list(CREDIT.features)])
    return pd.DataFrame({"request_id": requests["request_id"].to_numpy(), "label": out["label"].astype(str).to_numpy(),
                         "score": out["probability_1"].to_numpy()})


def assert_explained_through_the_servers(box: Sandbox, run_id: str) -> None:
    """A few requests explained through the run's own endpoints (V2 ones among them): each model's
    attributions plus its base value give back its own answer on the request (efficiency), which
    masked rows sent in the wrong shape or order could not."""
    from staging.explain.settings import ExplainSettings

    box.start_explanation(box.check_explanation(run_id, ExplainSettings(disagreements=4, others=4))).wait(300)
    explanation = box.explanation(run_id)
    assert explanation is not None and explanation.status == "finished", explanation and explanation.reason
    results = box.store.results(run_id)
    features = list(explanation.features)
    for role in ROLES:
        answered = results[results["target"] == role].set_index("request_id")
        rows = explanation.attributions[explanation.attributions["role"] == role]
        assert len(rows) >= 4
        for _, row in rows.iterrows():
            probability = json.loads(answered.loc[row["request_id"], "probabilities"])["1"]
            assert abs(row["base"] + row[features].sum() - probability) < 1e-6, role


def assert_answers_equal_pyfunc(box: Sandbox, run_id: str) -> None:
    manifest = box.store.manifest(run_id)
    results, requests = box.store.results(run_id), box.store.requests(run_id)
    assert manifest.status == "finished" and (results["status"] == 200).all()
    for role in ROLES:
        theirs = local_predictions(box.home, manifest.models[role].uri, requests)
        ours = results.loc[results["target"] == role, ["request_id", "prediction", "score"]].merge(
            theirs, on="request_id", suffixes=("", "_pyfunc"))
        assert len(ours) == len(requests)
        assert (ours["prediction"] == ours["label"]).all(), role
        np.testing.assert_allclose(ours["score"], ours["score_pyfunc"], atol=1e-9)


@pytest.fixture(scope="module")
def mixed(demo_home):
    """Champion on `mlflow models serve`, challenger on MLServer (V2), both local processes."""
    box = Sandbox(demo_home, backend="process")
    box.start_servers(CREDIT.model_name, runtimes={CHALLENGER: "mlserver"})
    yield box
    box.close()


def test_a_shadow_replay_across_runtimes_equals_pyfunc_for_both(mixed):
    assert mixed.servers[CHAMPION].endpoint.protocol == "mlflow"
    assert mixed.servers[CHALLENGER].endpoint.protocol == "v2"
    handle = mixed.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=300),
                                ReplaySettings(concurrency=2))
    handle.wait(300)
    manifest = mixed.store.manifest(handle.run_id)
    assert (manifest.models[CHAMPION].protocol, manifest.models[CHAMPION].runtime) == ("mlflow", "mlflow")
    assert (manifest.models[CHALLENGER].protocol, manifest.models[CHALLENGER].runtime) == ("v2", "mlserver")
    assert_answers_equal_pyfunc(mixed, handle.run_id)
    assert_explained_through_the_servers(mixed, handle.run_id)


@pytest.fixture(scope="module")
def v2_endpoints(demo_home):
    """Both models on MLServer, started outside the sandbox; the sandbox gets their V2 URLs."""
    outside = ProcessBackend(demo_home)
    refs = Sandbox(demo_home, backend="process").resolve_pair(CREDIT.model_name)
    servers = [outside.start(refs[role], role, runtime="mlserver") for role in ROLES]
    urls = {server.role: server.endpoint.url for server in servers}
    assert all("/v2/models/credit-default" in url for url in urls.values())
    yield demo_home, urls
    for server in servers:
        outside.stop(server)


@pytest.mark.parametrize("batch_size", [1, 50], ids=["one row a request", "batches of 50"])
def test_the_endpoint_backend_replays_over_v2_urls(v2_endpoints, batch_size):
    home, urls = v2_endpoints
    box = Sandbox(home, backend="endpoint", endpoint_urls=urls)
    try:
        box.start_servers(CREDIT.model_name)
        handle = box.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=200),
                                  ReplaySettings(concurrency=2, batch_size=batch_size))
        handle.wait(300)
        assert_answers_equal_pyfunc(box, handle.run_id)
        if batch_size == 1:  # a cluster's V2 endpoints, explained through their URLs
            assert_explained_through_the_servers(box, handle.run_id)
    finally:
        box.close()


def test_metadata_that_disagrees_with_the_traffic_is_refused_before_any_request(v2_endpoints):
    home, urls = v2_endpoints  # the credit model's MLServer servers...
    box = Sandbox(home, backend="endpoint", endpoint_urls=urls)
    try:
        # ...given as the delivery model's, and skipping the check that would refuse them at once
        box.start_servers(DELIVERY.model_name, unchecked="the traffic's own check is under test")
        runs_before = len(box.store.list_runs())
        with pytest.raises(TrafficError) as refused:
            box.begin_replay(DELIVERY.model_name, DELIVERY.file("traffic"), TrafficSelection(sample_size=50))
        message = str(refused.value)
        assert "V2 metadata" in message and "age" in message and "distance_km" in message
        assert len(box.store.list_runs()) == runs_before  # nothing was created, so nothing was sent
    finally:
        box.close()


def test_the_command_line_replays_against_kserve_style_urls(v2_endpoints):
    home, urls = v2_endpoints
    out = subprocess.run([sys.executable, "-m", "staging", "replay", "--model", CREDIT.model_name,
                          "--traffic", str(CREDIT.file("traffic")), "--requests", "80", "--backend", "endpoint",
                          "--champion-url", urls[CHAMPION], "--challenger-url", urls[CHALLENGER],
                          "--home", str(home.root), "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "finished" and summary["requests"] == 80 and summary["errors"] == 0
    assert {r["protocol"] for r in summary["runtimes"].values()} == {"v2"}


def test_endpoint_urls_are_checked_before_anything_starts(demo_home):
    out = subprocess.run([sys.executable, "-m", "staging", "replay", "--model", CREDIT.model_name,
                          "--traffic", str(CREDIT.file("traffic")), "--backend", "endpoint",
                          "--champion-url", "http://127.0.0.1:9/v2/models/x", "--home", str(demo_home.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--challenger-url" in out.stderr


def test_without_an_mlflow_signature_the_traffic_is_validated_against_v2_metadata(v2_endpoints, tmp_path):
    demo, urls = v2_endpoints
    configure_mlflow(demo)
    files = Path(mlflow.artifacts.download_artifacts(f"models:/{CREDIT.model_name}/1", dst_path=str(tmp_path / "m")))
    spec = yaml.safe_load((files / "MLmodel").read_text())
    spec.pop("signature", None)
    (files / "MLmodel").write_text(yaml.safe_dump(spec))
    home = SandboxHome(tmp_path / "home").ensure()  # a registry of its own: the session's demo home stays as it was
    configure_mlflow(home)
    mlflow.set_experiment("unsigned models")  # the demo home's experiment is not this store's
    try:
        with mlflow.start_run(run_name="unsigned"):
            mlflow.log_artifacts(str(files), "model")
            uri = f"runs:/{mlflow.active_run().info.run_id}/model"
        version = mlflow.register_model(uri, "credit-unsigned").version
    finally:
        mlflow.set_experiment(experiment_id="0")  # every store has the default experiment: leave no other active
    client = mlflow.MlflowClient()
    for alias in ROLES:
        client.set_registered_model_alias("credit-unsigned", alias, version)
    box = Sandbox(home, backend="endpoint", endpoint_urls=urls)
    try:
        box.start_servers("credit-unsigned", unchecked="logged without a signature")
        validated = box.prepare_traffic("credit-unsigned", CREDIT.file("traffic"))
        assert sorted(validated.features) == sorted(CREDIT.features)
        # the 12 text incomes are refused by type; the 6 rows that lost `age` go as null, since V2
        # metadata cannot say an input is required (the MLflow signature could, and refused them)
        assert validated.report.rows_quarantined == 12
        handle = box.begin_replay("credit-unsigned", CREDIT.file("traffic"), TrafficSelection(sample_size=60))
        handle.wait(300)
        assert box.store.manifest(handle.run_id).status == "finished"
    finally:
        box.close()


def test_a_replica_on_mlserver_makes_the_runtimes_own_effect_the_noise_floor(demo_home):
    box = Sandbox(demo_home, backend="process")
    try:
        box.start_servers(CREDIT.model_name, replica=True, runtimes={"champion_replica": "mlserver"})
        assert box.servers["champion_replica"].endpoint.protocol == "v2"
        assert box.servers[CHAMPION].endpoint.protocol == "mlflow"
        handle = box.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=150),
                                  ReplaySettings(concurrency=2))
        handle.wait(300)
        evidence = box.evidence(handle.run_id)
        # the same model on two runtimes: every answer agrees, so the runtime adds no disagreement
        assert evidence.noise_floor is not None and evidence.noise_floor.compared == 150
        assert evidence.noise_floor.rate == 1.0
    finally:
        box.close()
