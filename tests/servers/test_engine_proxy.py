"""The engine proxy compose puts between the app and the Docker socket: the calls the sandbox
makes pass (a model container started, called and removed through it, on the real engine);
everything that would hand out the host (privileged or networked containers, host mounts, exec,
other people's containers, networked builds) is refused with a reason."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from support import ROOT, free_port, require_engine

import docker
from staging import ModelRef
from staging.backends.docker.backend import LABEL, DockerBackend
from staging.backends.docker.images import BUILT_BASE_IMAGE
from staging.registry.scenarios import SCENARIOS_BY_MODEL

# the proxy is a program of compose's, outside the staging package: loaded from its file
ENGINE_PROXY = ROOT / "services" / "engine_proxy.py"
_spec = importlib.util.spec_from_file_location("engine_proxy", ENGINE_PROXY)
engine_proxy = sys.modules.setdefault("engine_proxy", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(engine_proxy)
decide = engine_proxy.decide

SOCKETS = "/tmp/staging-proxy-test-sockets"
FENCED = {"Labels": {f"{LABEL}.role": "champion"},
          "HostConfig": {"NetworkMode": "none", "CapDrop": ["ALL"], "SecurityOpt": ["no-new-privileges"],
                         "Binds": [f"{SOCKETS}/champion-1:/sock:rw"]}}


def _create(**changes) -> bytes:
    spec = json.loads(json.dumps(FENCED))
    for key, value in changes.items():
        if key == "Labels":
            spec["Labels"] = value
        else:
            spec["HostConfig"][key] = value
    return json.dumps(spec).encode()


def test_a_fenced_sandbox_container_may_be_created():
    assert decide("POST", "/v1.50/containers/create", "name=x", _create(), SOCKETS).allowed


@pytest.mark.parametrize("changes, why", [
    ({"Privileged": True}, "privileged"),
    ({"CapAdd": ["SYS_ADMIN"]}, "capabilities"),
    ({"NetworkMode": "bridge"}, "network"),
    ({"NetworkMode": "host"}, "network"),
    ({"PidMode": "host"}, "namespace"),
    ({"Binds": ["/:/host"]}, "mounting /"),
    ({"Binds": ["/var/run/docker.sock:/var/run/docker.sock"]}, "mounting"),
    ({"Binds": [f"{SOCKETS}:/sock"]}, "mounting"),  # the whole folder: every model's socket
    ({"Binds": [f"{SOCKETS}/../etc:/x"]}, "mounting"),
    ({"Mounts": [{"Type": "bind", "Source": "/root", "Target": "/r"}]}, "mounting"),
    ({"Devices": [{"PathOnHost": "/dev/sda"}]}, "devices"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, "opt-out"),
    ({"Labels": {}}, "label"),
])
def test_a_container_that_could_reach_the_host_is_refused(changes, why):
    decision = decide("POST", "/containers/create", "", _create(**changes), SOCKETS)
    assert not decision.allowed and why in decision.why


@pytest.mark.parametrize("method, path, query", [
    ("POST", "/v1.50/containers/abc/exec", ""), ("POST", "/exec/abc/start", ""), ("POST", "/containers/abc/attach", ""),
    ("POST", "/volumes/create", ""), ("GET", "/events", ""), ("POST", "/swarm/init", ""), ("GET", "/info", ""),
    ("POST", "/build", ""), ("POST", "/build", "networkmode=host"), ("POST", "/plugins/pull", ""),
])
def test_routes_the_sandbox_never_calls_are_refused(method, path, query):
    assert not decide(method, path, query, b"", SOCKETS).allowed


def test_calls_on_a_named_container_are_checked_against_its_labels():
    decision = decide("POST", "/v1.50/containers/0123abcd/start", "", b"", SOCKETS)
    assert decision.allowed and decision.scope == "container" and decision.subject == "0123abcd"
    assert decide("POST", "/build", "networkmode=none&t=staging-sandbox/model:x", b"", SOCKETS).allowed
    tagged = decide("POST", "/v1.41/images/staging-sandbox/runtime:ab/tag", "repo=staging-sandbox%2Fruntime&tag=req-1",
                    b"", SOCKETS)
    assert tagged.allowed and tagged.scope == "image" and tagged.subject == "staging-sandbox/runtime:ab"
    assert not decide("POST", "/images/staging-sandbox/runtime:ab/tag", "repo=python&tag=latest", b"", SOCKETS).allowed


@pytest.fixture(scope="module")
def proxied():
    """The proxy in front of the real engine, on a port of 127.0.0.1, and a client through it."""
    require_engine()
    port = free_port()
    proxy = subprocess.Popen([sys.executable, str(ENGINE_PROXY), "--listen", f"127.0.0.1:{port}",
                              "--socket-dir", SOCKETS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:  # not listening yet
            assert proxy.poll() is None and time.monotonic() < deadline, proxy.stderr.read().decode()[-2000:]
            time.sleep(0.3)
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", timeout=60)
    assert client.ping()
    yield client, port
    proxy.terminate()
    proxy.wait(timeout=10)


def test_the_sandbox_runs_a_model_through_the_proxy_and_the_rest_is_refused(proxied, demo_home, monkeypatch):
    client, port = proxied
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")  # the slow calls' own client, too
    backend = DockerBackend(demo_home, client, socket_dir=SOCKETS)
    server = backend.start(ModelRef("delivery-time", "1"), "champion")
    try:
        scenario = SCENARIOS_BY_MODEL["delivery-time"]
        frame = pd.read_parquet(scenario.file("train")).head(2)[list(scenario.features)]
        assert len(server.endpoint.invoke(frame)) == 2
        assert backend.status(server)["status"] == "running" and backend.log_tail(server)
        container = client.containers.get(server.container.id)
        with pytest.raises(docker.errors.APIError) as refused:
            container.exec_run(["id"])
        assert refused.value.status_code == 403 and "exec" in str(refused.value)
    finally:
        backend.stop(server)
    labels = {f"{LABEL}.role": "x"}
    attempts = {
        "privileged": lambda: client.containers.create(BUILT_BASE_IMAGE, "true", privileged=True, labels=labels,
                                                       network_mode="none"),
        "the host's root": lambda: client.containers.create(BUILT_BASE_IMAGE, "true", labels=labels,
                                                            network_mode="none", volumes={"/": {"bind": "/host"}}),
        "a network": lambda: client.containers.create(BUILT_BASE_IMAGE, "true", labels=labels),
        "no sandbox label": lambda: client.containers.create(BUILT_BASE_IMAGE, "true", network_mode="none"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(docker.errors.APIError) as refused:
            attempt()
        assert refused.value.status_code == 403, what
    engine = docker.DockerClient(base_url="unix:///var/run/docker.sock")  # the engine itself, not the proxy
    outsider = engine.containers.create(BUILT_BASE_IMAGE, "true", network_mode="none")  # someone else's
    try:
        with pytest.raises(docker.errors.APIError) as refused:
            client.containers.get(outsider.id).remove(force=True)
        assert refused.value.status_code == 403 and "not the sandbox's" in str(refused.value)
        with pytest.raises(docker.errors.APIError):
            client.images.remove(BUILT_BASE_IMAGE.replace("staging-sandbox/", "") or "python", force=True)
    finally:
        outsider.remove(force=True)
    assert not engine.containers.list(all=True, filters={"label": f"{LABEL}.role=x"})
