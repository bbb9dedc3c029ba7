"""compose.yaml on the real engine, in team mode: MLflow's tracking server with its basic-auth
app, the app (unprivileged, no Docker socket) starting fenced model containers through the
engine proxy, two reviewers, one allowed to promote and one not, and the watcher: a training
script that registers a challenger gets a verdict tag on its version with no one touching the app."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from cryptography.fernet import Fernet
from support import ROOT, free_port, require_engine, wait_until_up

SECRETS = {"STAGING_MLFLOW_ADMIN_PASSWORD": "admin-Compose-3f7a", "STAGING_APP_PASSWORD": "app-Compose-9d21",
           "STAGING_MLFLOW_SECRET_KEY": "key-Compose-55c0", "STAGING_WEBHOOK_SECRET": "hook-Compose-" + uuid.uuid4().hex,
           "STAGING_WEBHOOK_ENCRYPTION_KEY": Fernet.generate_key().decode()}
ALICE, BOB = "alice-Compose-1e44", "bob-Compose-a0b3"




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
    ports = {"STAGING_APP_PORT": str(free_port()), "STAGING_MLFLOW_PORT": str(free_port())}
    env = {**os.environ, **ports, **SECRETS, "STAGING_SOCKET_DIR": f"/tmp/{project}-sockets",
           "STAGING_WATCH_REQUESTS": "100"}
    compose = ["docker-compose", "-p", project, "-f", str(ROOT / "compose.yaml")]
    up = subprocess.run([*compose, "up", "-d"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        logs = subprocess.run([*compose, "logs", "--no-color", "setup", "mlflow"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120).stdout
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], cwd=ROOT, env=env, capture_output=True,
                       timeout=300)
        pytest.fail(f"compose up failed: {up.stderr[-1500:]}\n{logs[-4000:]}")
    try:
        yield compose, env, ports
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], cwd=ROOT, env=env, capture_output=True,
                       timeout=300)
        shutil.rmtree(env["STAGING_SOCKET_DIR"], ignore_errors=True)


def test_the_stack_serves_the_app_and_the_tracking_server(stack):
    _, _, ports = stack
    wait_until_up(f"http://127.0.0.1:{ports['STAGING_MLFLOW_PORT']}/health", 180)
    wait_until_up(f"http://127.0.0.1:{ports['STAGING_APP_PORT']}/_stcore/health", 180)


def _exec(stack, service: str, *command: str, env: dict[str, str] | None = None, timeout: float = 300):
    compose, environ, _ = stack
    extra = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
    return subprocess.run([*compose, "exec", "-T", *extra, service, *command], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def test_team_mode_in_compose_two_reviewers_one_may_promote(stack):
    """The demo runs on containers reached through the engine proxy; the admin makes alice (EDIT
    on the model) and bob (MLflow's default, READ); bob's sign-off is refused and nothing moves;
    alice's moves the alias and the audit record names her."""
    assert _exec(stack, "app", "id", "-u").stdout.strip() == "10002"
    assert _exec(stack, "app", "test", "-e", "/var/run/docker.sock").returncode != 0  # only the proxy holds it
    out = _exec(stack, "app", "python", "-m", "staging", "demo", "--backend", "docker", "--requests", "40", "--json",
                timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["backend"] == "docker" and summary["status"] == "finished" and summary["requests"] == 40
    admin = {"STAGING_TRACKING_URI": "http://mlflow:5000", "MLFLOW_TRACKING_USERNAME": "admin",
             "MLFLOW_TRACKING_PASSWORD": SECRETS["STAGING_MLFLOW_ADMIN_PASSWORD"]}
    for user, password, permission in (("alice", ALICE, "EDIT"), ("bob", BOB, "READ")):
        made = _exec(stack, "app", "python", "-m", "staging", "team", "add-user", user, "--models", "credit-default",
                     "--permission", permission, env={**admin, "STAGING_NEW_USER_PASSWORD": password})
        assert made.returncode == 0, made.stderr[-2000:]
    promote = ["python", "-m", "staging", "promote", "--model", "credit-default", "--run", summary["run_id"],
               "--reason", "Signed in compose.", "--yes", "--override", "--json"]
    refused = _exec(stack, "app", *promote, "--reviewer", "bob", env={"STAGING_REVIEWER_PASSWORD": BOB})
    assert refused.returncode == 1 and "MLflow refused" in refused.stderr, refused.stderr[-2000:]
    history = _exec(stack, "app", "python", "-m", "staging", "history", "--model", "credit-default", "--json")
    assert "bob" not in history.stdout
    done = _exec(stack, "app", *promote, "--reviewer", "alice", env={"STAGING_REVIEWER_PASSWORD": ALICE})
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["reviewer"] == "alice" and record["to_version"] != record["from_version"]
    aliases = _exec(stack, "mlflow", "python", "-c",
                    "import mlflow; c = mlflow.MlflowClient('http://127.0.0.1:5000'); "
                    "print(c.get_registered_model('credit-default').aliases)",
                    env={"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": BOB})
    assert f"'champion': '{record['to_version']}'" in aliases.stdout.replace('"', "'"), aliases.stderr
    home = _exec(stack, "app", "sh", "-c", "grep -rl -e \"$0\" -e \"$1\" -e \"$2\" /data/home || true",
                 ALICE, BOB, SECRETS["STAGING_APP_PASSWORD"])
    assert home.stdout.strip() == "", f"a password was written to {home.stdout}"


TRAINING_SCRIPT = """
import json, sys, time
import mlflow
client = mlflow.MlflowClient("http://127.0.0.1:5000")
champion = client.get_model_version_by_alias("credit-default", "champion")
version = client.create_model_version("credit-default", champion.source, champion.run_id,
                                      model_id=champion.source.removeprefix("models:/")).version
began = time.monotonic()
client.set_registered_model_alias("credit-default", "challenger", version)
tags = {}
while "sandbox.verdict" not in tags and time.monotonic() - began < 900:
    time.sleep(2)
    tags = dict(client.get_model_version("credit-default", version).tags)
print(json.dumps({"version": version, "champion": champion.version, "tags": tags,
                  "seconds": round(time.monotonic() - began, 1),
                  "champion_after": client.get_model_version_by_alias("credit-default", "champion").version}))
"""


def test_a_training_script_that_registers_a_challenger_gets_a_verdict_tag(stack):
    """What a training pipeline does, as a user MLflow knows (here the admin): register a version and
    point @challenger at it. MLflow's signed webhook reaches the watcher, which replays the traffic
    on containers through the engine proxy and tags the verdict on the version. Nothing promotes."""
    admin = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": SECRETS["STAGING_MLFLOW_ADMIN_PASSWORD"]}
    out = _exec(stack, "mlflow", "python", "-c", TRAINING_SCRIPT, env=admin, timeout=1000)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    tags = result["tags"]
    logs = _exec(stack, "watcher", "cat", "/data/home/logs/watcher.log").stdout
    assert tags.get("sandbox.verdict") in {"passed", "warned", "failed", "not yet"}, (tags, logs[-3000:])
    assert tags["sandbox.run"] and tags["sandbox.report"]
    print(f"compose: @challenger set to the verdict tag in {result['seconds']} s")
    gate = _exec(stack, "app", "python", "-m", "staging", "gate", "--model", "credit-default", "--run",
                 tags["sandbox.run"], "--json")  # the app's home holds the watcher's run
    assert json.loads(gate.stdout.strip().splitlines()[-1])["status"] == tags["sandbox.verdict"], gate.stderr[-2000:]
    assert result["champion_after"] == result["champion"]  # never promotes
    assert SECRETS["STAGING_WEBHOOK_SECRET"] not in logs
