"""One contract, every backend and runtime: the scoring protocol as the replay engine needs it,
MLflow's or V2's. `mlserver` runs both models on MLServer (process backend, V2), and
`docker-mlserver` in hardened containers; `v2-endpoint` gives the sandbox two MLServer processes
started outside it, by KServe-style V2 URLs."""

import json

import pandas as pd
import pytest
import requests
from support import require_engine

from staging import Sandbox, TrafficSelection
from staging.backends.process import ProcessBackend
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.roles import ROLES


@pytest.fixture(scope="module", params=["process", "docker", "endpoint", "mlserver", "v2-endpoint", "docker-mlserver"])
def live(request, demo_home):
    """A sandbox whose champion and challenger run on the backend (and runtime) the parameter names."""
    helpers = []
    runtimes = {"*": "mlserver"} if request.param in ("mlserver", "docker-mlserver") else None
    if request.param in ("docker", "docker-mlserver"):
        require_engine()
        box = Sandbox(demo_home, backend="docker")
    elif request.param in ("endpoint", "v2-endpoint"):  # servers started outside the sandbox, given by URL
        outside = ProcessBackend(demo_home)
        box0 = Sandbox(demo_home, backend="process")
        refs = box0.resolve_pair(CREDIT.model_name)
        runtime = "mlserver" if request.param == "v2-endpoint" else "mlflow"
        helpers = [(outside, outside.start(refs[role], role, runtime=runtime)) for role in ROLES]
        box = Sandbox(demo_home, backend="endpoint", endpoint_urls={s.role: s.endpoint.url for _, s in helpers})
    else:
        box = Sandbox(demo_home, backend="process")
    box.start_servers(CREDIT.model_name, runtimes=runtimes)
    if request.param in ("mlserver", "v2-endpoint", "docker-mlserver"):
        assert all(server.endpoint.protocol == "v2" for server in box.servers.values())
    yield box
    box.close()
    for backend, server in helpers:
        backend.stop(server)


@pytest.fixture(scope="module")
def rows():
    return pd.read_parquet(CREDIT.file("train")).head(3)[list(CREDIT.features)]


def _root(url: str) -> str:
    return url.split("/v2/models/")[0]


def test_ping_health_and_version(live):
    for server in live.servers.values():
        assert server.backend == live.backend.name
        if server.endpoint.protocol == "v2":  # the V2 health and metadata routes
            root = _root(server.endpoint.url)
            for url in (server.endpoint.ready_url, f"{root}/v2/health/ready", f"{root}/v2/health/live", f"{root}/v2"):
                assert requests.get(url, timeout=5).status_code == 200, url
            names = [tensor["name"] for tensor in server.endpoint.metadata()["inputs"]]
            assert sorted(names) == sorted(CREDIT.features)
            continue
        for path in ("ping", "health", "version"):
            assert requests.get(f"{server.endpoint.url}/{path}", timeout=5).status_code == 200


@pytest.mark.parametrize("payload", ["dataframe_split", "dataframe_records", "instances", "inputs", "v2"])
def test_every_payload_format_is_answered(live, rows, payload):
    for server in live.servers.values():
        v2 = server.endpoint.protocol == "v2"
        if payload == "v2":
            if not v2:
                continue  # MLflow's scoring server has no V2 route; its formats are the other four
            answer = requests.post(server.endpoint.invocations_url, data=server.endpoint.body(rows), timeout=30)
            assert answer.status_code == 200, answer.text[:300]
            assert {o["name"] for o in answer.json()["outputs"]} == {"label", "probability_0", "probability_1"}
            assert all(o["shape"][0] == 3 for o in answer.json()["outputs"])
            continue
        if payload == "dataframe_split":
            body = {payload: json.loads(rows.to_json(orient="split", index=False))}
        else:
            body = {payload: json.loads(rows.to_json(orient="records"))}
        # MLServer answers MLflow's own protocol too, at its root's /invocations
        url = f"{_root(server.endpoint.url)}/invocations" if v2 else server.endpoint.invocations_url
        answer = requests.post(url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        assert len(answer.json()["predictions"]) == 3


def test_a_bad_payload_is_a_client_error_not_a_crash(live):
    server = live.servers["champion"]
    if server.endpoint.protocol == "v2":
        bad = {"inputs": [{"name": "age", "datatype": "INT64", "shape": [1, 1]}]}  # a tensor without data
        # an unknown input is well-formed V2 that the model cannot take: MLServer's MLflow runtime
        # answers 500 there (MLflow's own server says 400); either way an error, and it stays up
        unknown = {"inputs": [{"name": "nope", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
                   "parameters": {"content_type": "pd"}}
        assert requests.post(server.endpoint.invocations_url, json=unknown, timeout=30).status_code >= 400
    else:
        bad = {"dataframe_split": {"columns": ["nope"], "data": [[1]]}}
    answer = requests.post(server.endpoint.invocations_url, json=bad, timeout=30)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert server.endpoint.healthy()


def test_invoke_returns_labels_and_probabilities(live, rows):
    for server in live.servers.values():
        answers = server.endpoint.invoke(rows)
        assert [a.label in {"0", "1"} for a in answers] == [True] * 3
        assert all(abs(sum(a.probabilities.values()) - 1) < 1e-6 for a in answers)


def test_a_shadow_replay_runs_unchanged_on_the_backend(live):
    handle = live.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=60),
                               ReplaySettings(concurrency=2))
    handle.wait(180)
    manifest = live.store.manifest(handle.run_id)
    assert manifest.status == "finished" and manifest.backend == live.backend.name
    results = live.store.results(handle.run_id)
    assert len(results) == 120 and (results["status"] == 200).all()
