"""The docker backend on a real engine: hardening, image reuse, sweeping, clear failures."""

import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest
from support import ROOT, require_engine

from staging import ModelRef, SandboxHome
from staging.backends import ProcessBackend, choose_backend
from staging.backends.docker.backend import LABEL, DockerBackend, _home_label
from staging.backends.docker.images import BUILT_BASE_IMAGE, ensure_model_image, resolve_base_image
from staging.errors import BackendError, ServerStartError
from staging.registry.scenarios import SCENARIOS_BY_MODEL
from staging.settings import ContainerLimits, Settings


@pytest.fixture(scope="module")
def client():
    return require_engine()


@pytest.fixture(scope="module")
def running(client, demo_home):
    backend = DockerBackend(demo_home, client)
    server = backend.start(ModelRef("delivery-time", "1"), "champion")
    yield backend, server, client.containers.get(server.container.id)
    backend.stop(server)


def test_the_container_is_hardened_and_labelled(running):
    _, server, container = running
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == 2**30 and host["NanoCpus"] == 10**9 and host["PidsLimit"] == 256
    assert "/tmp" in host["Tmpfs"]
    assert config["User"] == "10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert host["NetworkMode"] == "none" and not container.attrs["NetworkSettings"]["Ports"]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert list(mounts) == ["/sock"] and mounts["/sock"]["Source"].endswith(server.server_id)
    assert server.endpoint.url.startswith("http://127.0.0.1:") and server.endpoint.healthy()
    labels = config["Labels"]
    assert labels[f"{LABEL}.role"] == "champion" and labels[f"{LABEL}.model"] == "delivery-time"
    assert labels[f"{LABEL}.owner_pid"] == str(os.getpid())


FENCE_PROBE = """
import json, os, socket, sys
targets = json.loads(sys.argv[1])
reached = {}
for name, (host, port) in targets.items():
    try:
        socket.create_connection((host, port), timeout=3).close()
        reached[name] = "reached"
    except OSError as exc:
        reached[name] = type(exc).__name__ + ": " + str(exc)
print(json.dumps({"interfaces": sorted(os.listdir("/sys/class/net")), "sockets": sorted(os.listdir("/sock")),
                  "reached": reached}))
"""


def _host_addresses() -> list[str]:
    """Every IPv4 address of this host but loopback (the bridge gateways among them)."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [address for address in out if "." in address and not address.startswith("127.")]


def test_a_model_container_reaches_neither_the_other_model_nor_the_app(client, demo_home, running):
    """From inside the champion's container, as its user: no interface but loopback; the
    challenger (by its bridge port, its socket and the engine's default bridge), an app listening
    on every interface of the host, and the engine's gateway are all unreachable; meanwhile the
    sandbox still calls both models."""
    backend, champion_server, champion = running
    challenger_server = backend.start(ModelRef("delivery-time", "1"), "challenger")
    try:
        app = socket.create_server(("0.0.0.0", 0))  # an app shared on every interface, the worst case
        app_port = app.getsockname()[1]
        challenger_port = int(challenger_server.endpoint.url.rsplit(":", 1)[1])
        targets = {"challenger via its bridge port": ["127.0.0.1", challenger_port],
                   "the engine's default gateway": ["172.17.0.1", app_port]}
        targets.update({f"the app at {address}": [address, app_port] for address in _host_addresses()})
        exit_code, output = champion.exec_run(["/opt/venv/bin/python", "-c", FENCE_PROBE, json.dumps(targets)],
                                              user="10001")
        assert exit_code == 0, output
        seen = json.loads(output.decode().strip().splitlines()[-1])
        assert seen["interfaces"] == ["lo"]
        assert seen["sockets"] == ["server.sock"]  # its own way in; the challenger's folder is not mounted
        assert len(seen["reached"]) >= 3
        assert not [name for name, outcome in seen["reached"].items() if outcome == "reached"], seen["reached"]
        scenario = SCENARIOS_BY_MODEL["delivery-time"]
        frame = pd.read_parquet(scenario.file("train")).head(1)[list(scenario.features)]
        for server in (champion_server, challenger_server):
            assert len(server.endpoint.invoke(frame)) == 1
        app.close()
    finally:
        backend.stop(challenger_server)
    assert not (backend.socket_dir / challenger_server.server_id).exists()


def test_status_reports_usage_and_health(running):
    backend, server, _ = running
    facts = backend.status(server)
    assert facts["status"] == "running" and facts["memory_limit_mb"] == 1024
    assert facts["memory_mb"] > 10 and facts["cpu_percent"] >= 0
    assert "Uvicorn running" in backend.log_tail(server, 50)


def test_the_same_model_reuses_its_image(client, demo_home, running):
    _, server, _ = running
    tag, built = ensure_model_image(client, demo_home, ModelRef("delivery-time", "1"))
    assert tag == server.container.image and built is False


def test_sweep_removes_a_dead_apps_containers_and_nothing_else(client, demo_home):
    script = ("from staging import SandboxHome, ModelRef\n"
              "from staging.backends.docker.backend import DockerBackend\n"
              f"s = DockerBackend(SandboxHome({str(demo_home.root)!r})).start(ModelRef('delivery-time', '1'), "
              "'challenger')\nprint(s.container.id)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    orphan = out.stdout.strip().splitlines()[-1]
    bystander = client.containers.run(BUILT_BASE_IMAGE, "sleep 120", detach=True,
                                      labels={"io.staging-sandbox.home": "someone-else"})
    try:
        swept = DockerBackend(demo_home, client).sweep_leftovers()
        assert any(name.startswith("staging-delivery-time") for name in swept)
        assert orphan not in [c.id for c in client.containers.list(all=True)]
        bystander.reload()
        assert bystander.status == "running"
    finally:
        bystander.remove(force=True)


def test_a_container_killed_for_memory_says_so_with_the_limit(client, demo_home):
    backend = DockerBackend(demo_home, client, limits=ContainerLimits(memory="40m"))
    with pytest.raises(ServerStartError) as info:
        backend.start(ModelRef("credit-default", "2"), "challenger", timeout=120)
    print(info.value.message)
    assert "more memory than its limit of 40m" in info.value.message
    assert info.value.detail is not None


def test_a_missing_base_image_names_the_fix(client, monkeypatch):
    monkeypatch.setenv("STAGING_BASE_IMAGE", "no-such/base:1")
    with pytest.raises(BackendError) as info:
        resolve_base_image(client, wanted=Settings.from_env().base_image)
    assert "python -m staging base-image" in info.value.hint


def test_without_an_engine_auto_falls_back_to_processes_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    backend, notice = choose_backend("auto", SandboxHome(tmp_path))
    assert isinstance(backend, ProcessBackend)
    assert notice == "Models run as local processes: no Docker engine answered."
    with pytest.raises(BackendError, match="No Docker engine answered"):
        choose_backend("docker", SandboxHome(tmp_path))


def test_the_headless_demo_runs_on_containers(client, tmp_path):
    out = subprocess.run([sys.executable, "-m", "staging", "demo", "--backend", "docker", "--requests", "100",
                          "--json", "--home", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = __import__("json").loads(out.stdout)
    assert summary["backend"] == "docker" and summary["status"] == "finished" and summary["requests"] == 100
    assert summary["champion"]["error_rate"] == 0.0 and summary["challenger"]["p50_ms"] > 0
    home_label = f"{LABEL}.home={_home_label(SandboxHome(tmp_path))}"
    assert client.containers.list(all=True, filters={"label": home_label}) == []  # the demo cleaned up


def test_warming_builds_every_champion_and_challenger_image(client, demo_home):
    from staging.backends.docker.images import warm_model_images

    lines: list[str] = []
    tags = warm_model_images(client, demo_home, lines.append)
    wanted = [ensure_model_image(client, demo_home, ModelRef(name, version))
              for name in ("credit-default", "delivery-time") for version in ("1", "2")]
    assert sorted(tags) == sorted(tag for tag, _ in wanted)
    assert not any(built for _, built in wanted)  # warmed: the next start reuses them


def test_prune_keeps_images_in_use_and_removes_the_rest(client, demo_home, running):
    from staging.backends.docker.images import prune_model_images

    _, server, _ = running
    unused, built = ensure_model_image(client, demo_home, ModelRef("credit-default", "1"))
    result = prune_model_images(client, keep=0)
    removed = {r["image"] for r in result["removed"]}
    assert unused in removed and server.container.image not in removed
    assert result["freed_bytes"] > 0 and result["freed_mb"] == round(result["freed_bytes"] / 1e6, 1)
    assert client.images.get(server.container.image)  # the running container's image is still there
