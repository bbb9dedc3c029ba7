"""The docker backend on a real engine: hardening, image reuse, sweeping, clear failures."""

import os
import subprocess
import sys

import pytest
from docker_support import require_engine

from staging import ModelRef, SandboxHome
from staging.backends import ProcessBackend, choose_backend
from staging.backends.docker_backend import LABEL, DockerBackend, _home_label
from staging.backends.images import BUILT_BASE_IMAGE, ensure_model_image, resolve_base_image
from staging.errors import BackendError, ServerStartError
from staging.settings import ContainerLimits, Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    binding = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]
    assert binding["HostIp"] == "127.0.0.1" and server.endpoint.url.endswith(binding["HostPort"])
    labels = config["Labels"]
    assert labels[f"{LABEL}.role"] == "champion" and labels[f"{LABEL}.model"] == "delivery-time"
    assert labels[f"{LABEL}.owner_pid"] == str(os.getpid())


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
              "from staging.backends.docker_backend import DockerBackend\n"
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
    from staging.backends.images import warm_model_images

    lines: list[str] = []
    tags = warm_model_images(client, demo_home, lines.append)
    wanted = [ensure_model_image(client, demo_home, ModelRef(name, version))
              for name in ("credit-default", "delivery-time") for version in ("1", "2")]
    assert sorted(tags) == sorted(tag for tag, _ in wanted)
    assert not any(built for _, built in wanted)  # warmed: the next start reuses them


def test_prune_keeps_images_in_use_and_removes_the_rest(client, demo_home, running):
    from staging.backends.images import prune_model_images

    _, server, _ = running
    unused, built = ensure_model_image(client, demo_home, ModelRef("credit-default", "1"))
    result = prune_model_images(client, keep=0)
    removed = {r["image"] for r in result["removed"]}
    assert unused in removed and server.container.image not in removed
    assert result["freed_bytes"] > 0 and result["freed_mb"] == round(result["freed_bytes"] / 1e6, 1)
    assert client.images.get(server.container.image)  # the running container's image is still there
