"""What the tests share: where the checkout is, a free port, the app started and waited for, the
oracles' environments, the Docker engine, and request logs written as platforms write them.

`tests/` is on pytest's path (`pythonpath` in pyproject.toml), so every tier imports this as
`support`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from staging.backends.process import free_port

ROOT = Path(__file__).resolve().parent.parent
# the benches whose quick mode needs model servers, a Docker engine or a browser: run by
# tests/servers/test_bench_quick.py (the others by tests/unit/test_benches.py)
BENCHES_ON_SERVERS = {"replay": set(), "replay_start": {"before_first_request_s", "ratio_before_over_now"},
                      "estimate": set(), "containers": set(),
                      "first_insight": {"demo_click_to_verdict_s_docker", "demo_click_to_verdict_s_process_loaded",
                                        "load_1m_during_loaded_run", "background_processes",
                                        "docker_runtime_image_cached"}}  # bench -> kept keys its quick mode skips

__all__ = ["BENCHES_ON_SERVERS", "ROOT", "capture", "free_port", "oracle_python", "require_engine", "streamlit_app",
           "wait_until_up", "write_lines"]


def wait_until_up(url: str, timeout_s: float = 60.0, log: Path | None = None) -> None:
    """Poll `url` until it answers 2xx; fail the test with the log's tail when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s: {tail}")


@contextmanager
def streamlit_app(home: Path, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (),
                  command: tuple[str, ...] = ("streamlit", "run", "streamlit_app.py")) -> Iterator[str]:
    """The app (`python -m streamlit run streamlit_app.py`) on a free port with `STAGING_HOME=home`,
    started and waited for; yields its URL and stops it (and the model servers it started) after."""
    port = free_port()
    log_path = home / "streamlit.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", *command, "--server.port", str(port), *args], cwd=ROOT,
                                   env={**os.environ, "STAGING_HOME": str(home), **(env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", log=log_path)
        yield url
    finally:
        os.killpg(process.pid, 15)  # the app's atexit hook stops the model servers it started
        process.wait(30)


def require_engine():
    """The docker SDK client; with STAGING_REQUIRE_DOCKER=1 (CI) a missing engine fails the test,
    elsewhere the test skips and says why."""
    from staging.backends.docker.backend import docker_client
    from staging.errors import BackendError

    try:
        return docker_client()
    except BackendError as exc:
        if os.environ.get("STAGING_REQUIRE_DOCKER") == "1":
            pytest.fail(f"STAGING_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(f"docker tests need an engine: {exc.message}")


def oracle_python(name: str) -> Path:
    """`.venv-<name>/bin/python` (or $STAGING_<NAME>_PYTHON), the environment of an oracle that cannot
    share the app's (made by a script in bench/); a missing one skips the calling module, and fails
    it when $STAGING_REQUIRE_<NAME> is 1 (scripts/test sets it)."""
    python = Path(os.environ.get(f"STAGING_{name.upper()}_PYTHON", ROOT / f".venv-{name}" / "bin" / "python"))
    if not python.exists():
        if os.environ.get(f"STAGING_REQUIRE_{name.upper()}") == "1":
            raise RuntimeError(f"{python} is missing: run `bash bench/setup-{name}`")
        pytest.skip(f"no {name} environment (bash bench/setup-{name} makes one)", allow_module_level=True)
    return python


def write_lines(path: Path, records) -> Path:
    """Records (or raw lines) as JSON Lines."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def capture(event_id, inference_id, data, encoding, content_type="text/csv", time="2026-10-05T10:00:00Z"):
    """One SageMaker Data Capture record."""
    meta = {"eventId": event_id, "inferenceTime": time}
    if inference_id:
        meta["inferenceId"] = inference_id
    return {"captureData": {"endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data,
                                              "encoding": encoding},
                            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.2",
                                               "encoding": "CSV"}},
            "eventMetadata": meta, "eventVersion": "0"}


def all_errors_run(sandbox, like: str) -> str:
    """A finished run in which every answer failed, written as the worker writes one."""
    import pandas as pd

    from staging.runs import read_manifest, write_manifest

    store = sandbox.store
    if any(run.run_id == f"{like}-errors" for run in store.list_runs()):  # once a session: tests on a worker share it
        return f"{like}-errors"
    source = store.folder(like)
    requests = store.requests(like).head(50)
    manifest = read_manifest(source)
    folder = store.create(manifest.replace(run_id=f"{like}-errors"), requests, pd.DataFrame(columns=["reason"]))
    rows = [{"run_id": folder.name, "request_id": rid, "target": role, "intended_send": 1.0, "actual_send": 1.0,
             "latency_ms": 3.0, "service_ms": 3.0, "status": 500, "prediction": None, "score": float("nan"),
             "probabilities": "", "error": "HTTP 500: the model server failed"}
            for rid in requests["request_id"] for role in ("champion", "challenger")]
    pd.DataFrame(rows).astype({"prediction": "str"}).to_parquet(folder / "results.parquet", index=False)
    (folder / "results.jsonl").touch()
    write_manifest(folder, store.manifest(folder.name).replace(status="finished", ended_at=2.0, rows=len(rows)))
    return folder.name
