"""The process backend against real MLflow scoring servers."""

import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests

from staging import ModelRef, SandboxHome
from staging.backends.process import ProcessBackend
from staging.errors import ServerStartError
from staging.files import process_alive as _alive
from staging.registry.scenarios import CREDIT


def test_both_servers_speak_the_scoring_protocol(sandbox):
    for server in sandbox.servers.values():
        base = server.endpoint.url
        assert base.startswith("http://127.0.0.1:")
        assert requests.get(f"{base}/ping", timeout=5).status_code == 200
        assert requests.get(f"{base}/health", timeout=5).status_code == 200
        assert requests.get(f"{base}/version", timeout=5).text.strip()
        features = pd.read_parquet(CREDIT.file("train")).head(3)[list(CREDIT.features)]
        answers = server.endpoint.invoke(features)
        assert len(answers) == 3
        assert all(a.label in {"0", "1"} and 0 <= a.score <= 1 for a in answers)
        assert set(answers[0].probabilities) == {"0", "1"}


def test_regression_model_answers_plain_values(demo_home):
    backend = ProcessBackend(demo_home)
    server = backend.start(ModelRef("delivery-time", "1"), "champion")
    try:
        frame = pd.DataFrame({"distance_km": [2.0], "items": [3], "hour_of_day": [12], "prep_minutes": [10.0],
                              "weather": ["rain"], "courier_type": ["bike"]})
        answer = server.endpoint.invoke(frame)[0]
        assert 5 < answer.score < 120 and answer.probabilities is None
    finally:
        backend.stop(server)
    assert not _alive(server.pid)


def test_a_version_that_is_not_in_the_registry_fails_with_a_message(demo_home):
    backend = ProcessBackend(demo_home)
    records_before = set(demo_home.servers_dir.glob("*.json"))
    with pytest.raises(ServerStartError) as info:
        backend.start(ModelRef("credit-default", "999"), "challenger", timeout=60)
    assert "could not be read from the registry" in info.value.message
    assert "models:/credit-default/999" in info.value.message and info.value.hint
    assert set(demo_home.servers_dir.glob("*.json")) == records_before  # its record is gone


def test_leftover_servers_of_a_dead_app_are_swept(demo_home, tmp_path):
    script = ("from staging import SandboxHome, ModelRef\nfrom staging.backends.process import ProcessBackend\n"
              f"b = ProcessBackend(SandboxHome({str(demo_home.root)!r}))\n"
              "s = b.start(ModelRef('delivery-time', '1'), 'champion')\n"
              "print(s.pid, flush=True)\n"
              "import os; os._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    orphan = int(out.stdout.strip().splitlines()[-1])
    assert _alive(orphan), "the orphaned server should outlive its app"
    swept = ProcessBackend(demo_home).sweep_leftovers()
    assert swept and not _alive(orphan)


def test_stop_ends_the_whole_process_group(demo_home):
    backend = ProcessBackend(demo_home)
    server = backend.start(ModelRef("delivery-time", "1"), "champion")
    group = os.getpgid(server.pid)
    assert len(_live_members(group)) >= 2  # mlflow's launcher and its uvicorn server
    backend.stop(server)
    time.sleep(0.2)
    assert _live_members(group) == []


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are not zombies (an exited child whose new parent,
    PID 1 here, does not reap it is a zombie: dead, but still listed)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry))
    return members


def test_home_paths_are_absolute_and_tracking_uri_explicit(tmp_path):
    home = SandboxHome.from_env(tmp_path / "h").ensure()
    assert home.tracking_uri == f"sqlite:///{tmp_path}/h/mlflow/mlflow.db"
    assert home.mlflow_env()["MLFLOW_TRACKING_URI"] == home.tracking_uri


def test_bootstrap_keeps_every_file_under_the_sandbox_home(tmp_path):
    workdir, home = tmp_path / "elsewhere", tmp_path / "home"
    workdir.mkdir()
    out = subprocess.run([sys.executable, "-m", "staging.registry.demo"], cwd=workdir, capture_output=True, text=True,
                         env={**os.environ, "STAGING_HOME": str(home)}, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(workdir.iterdir()) == []  # no mlruns/ or mlflow.db where the process happened to run
    assert len(list((home / "mlflow" / "artifacts").rglob("MLmodel"))) == 4
