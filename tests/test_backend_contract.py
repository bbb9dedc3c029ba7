"""One contract, every backend: the MLflow scoring protocol as the replay engine needs it."""

import json

import pandas as pd
import pytest
import requests
from docker_support import require_engine

from staging import Sandbox, TrafficSelection
from staging.backends.process import ProcessBackend
from staging.replay import ReplaySettings
from staging.roles import ROLES
from staging.scenarios import CREDIT


@pytest.fixture(scope="module", params=["process", "docker", "endpoint"])
def live(request, demo_home):
    """A sandbox whose champion and challenger run on the backend named by the parameter."""
    helpers = []
    if request.param == "docker":
        require_engine()
        box = Sandbox(demo_home, backend="docker")
    elif request.param == "endpoint":  # servers started outside the sandbox, given by URL
        outside = ProcessBackend(demo_home)
        box0 = Sandbox(demo_home, backend="process")
        refs = box0.resolve_pair(CREDIT.model_name)
        helpers = [(outside, outside.start(refs[role], role)) for role in ROLES]
        box = Sandbox(demo_home, backend="endpoint", endpoint_urls={s.role: s.endpoint.url for _, s in helpers})
    else:
        box = Sandbox(demo_home, backend="process")
    box.start_servers(CREDIT.model_name)
    yield box
    box.close()
    for backend, server in helpers:
        backend.stop(server)


@pytest.fixture(scope="module")
def rows():
    return pd.read_parquet(CREDIT.file("train")).head(3)[list(CREDIT.features)]


def test_ping_health_and_version(live):
    for server in live.servers.values():
        assert server.backend == live.backend.name
        for path in ("ping", "health", "version"):
            assert requests.get(f"{server.endpoint.url}/{path}", timeout=5).status_code == 200


@pytest.mark.parametrize("payload", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_every_payload_format_is_answered(live, rows, payload):
    if payload == "dataframe_split":
        body = {payload: json.loads(rows.to_json(orient="split", index=False))}
    else:
        body = {payload: json.loads(rows.to_json(orient="records"))}
    for server in live.servers.values():
        answer = requests.post(server.endpoint.invocations_url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        assert len(answer.json()["predictions"]) == 3


def test_a_bad_payload_is_a_client_error_not_a_crash(live):
    server = live.servers["champion"]
    answer = requests.post(server.endpoint.invocations_url, json={"dataframe_split": {"columns": ["nope"],
                                                                                      "data": [[1]]}}, timeout=30)
    assert 400 <= answer.status_code < 500
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
