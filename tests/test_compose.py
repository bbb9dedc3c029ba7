"""compose.yaml on the real engine: the app and an MLflow tracking server, the app starting
model containers through the host's socket and reaching them by name."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from docker_support import require_engine

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    require_engine()
    if shutil.which("docker-compose") is None:
        if os.environ.get("STAGING_REQUIRE_DOCKER") == "1":
            pytest.fail("docker-compose is missing (apt-get install -y docker-compose)")
        pytest.skip("docker-compose is not installed")
    built = subprocess.run([sys.executable, "-m", "staging", "app-image"], cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    assert built.returncode == 0, built.stderr[-3000:]
    project = f"staging-test-{uuid.uuid4().hex[:6]}"
    ports = {"STAGING_APP_PORT": str(_free_port()), "STAGING_MLFLOW_PORT": str(_free_port())}
    env = {**os.environ, **ports}
    compose = ["docker-compose", "-p", project, "-f", str(ROOT / "compose.yaml")]
    up = subprocess.run([*compose, "up", "-d"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        yield compose, env, ports
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], cwd=ROOT, env=env, capture_output=True,
                       timeout=300)


def _wait(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")


def test_the_stack_serves_the_app_and_the_tracking_server(stack):
    _, _, ports = stack
    _wait(f"http://127.0.0.1:{ports['STAGING_MLFLOW_PORT']}/health")
    _wait(f"http://127.0.0.1:{ports['STAGING_APP_PORT']}/_stcore/health")


def test_the_demo_inside_compose_runs_models_in_containers_reached_by_name(stack):
    compose, env, _ = stack
    out = subprocess.run([*compose, "exec", "-T", "app", "python", "-m", "staging", "demo", "--backend", "docker",
                          "--requests", "40", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["backend"] == "docker" and summary["status"] == "finished" and summary["requests"] == 40
    assert "ready" in out.stderr and "http://staging-credit-default-v" in out.stderr  # by name, not 127.0.0.1
    registered = subprocess.run([*compose, "exec", "-T", "mlflow", "python", "-c",
                                 "import mlflow; c = mlflow.MlflowClient('http://127.0.0.1:5000'); "
                                 "print(sorted(m.name for m in c.search_registered_models()))"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "credit-default" in registered.stdout  # the registry lives in the tracking server's volume
