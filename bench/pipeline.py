"""The comparison that runs itself, measured: traffic read from object storage against the same
file read locally, in one run.

Prints one JSON line:
- local_read_1m_rows_s: a million-row Parquet of the credit demo's traffic read and validated
  against the champion's signature from a local path;
- s3_read_1m_rows_s: the same file read through an `s3://` URL from an S3-compatible server on
  this machine (moto's server mode): fetched into the home, then validated the same way (the
  first read, download included; a second read of the same objects reuses the copy kept by
  their ETags: `s3_cached_read_s`). The local read is the faster of two, taken side by side;
- s3_over_local: their ratio (the goal: within 2x);
- webhook_to_verdict_s: the demo pair on processes (model environments already made, as on a
  machine that has served them once): a real MLflow tracking server (sqlite, webhooks on), the
  watcher registered with it, then what a training pipeline does (a new version, @challenger
  set) until the verdict tag appears on the version: MLflow's delivery, the queue's settling
  (`--settle 1s`), both servers started, 1,000 requests replayed, the gate, the report, the
  audit record and the tags. `webhook_timeline` splits it, in seconds after the alias was set,
  from the watcher's own log.

`--quick` (CI): 50,000 rows and 100 requests; the same keys.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import publish, wait_until_up

MODEL = "credit-default"
STEPS = (("delivered", r"delivery \S+: model_version_alias"), ("taken", r"\(webhook, attempt"),
         ("checked", r"starting both servers"), ("servers_up", r"replaying \d"),
         ("verdict_logged", r": (PASSED|WARNED|FAILED|NOT YET):"))  # regular expressions over watcher.log


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _timeline(log: Path, since: float) -> dict[str, float]:
    """Seconds after `since` (the alias set) of each step, from the watcher's log lines."""
    import re

    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
        if stamp is None:
            continue
        at = time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")) + int(stamp.group(2)) / 1000
        for step, marker in STEPS:
            if step not in found and at >= since - 1 and re.search(marker, line):
                found[step] = round(at - since, 2)
    return found


def webhook_to_verdict(scratch: Path, requests_sent: int) -> tuple[float, dict[str, float]]:
    """A tracking server and the watcher on loopback; the seconds from @challenger set to the verdict tag."""
    import secrets
    import signal
    import subprocess

    from cryptography.fernet import Fernet
    from mlflow.tracking import MlflowClient

    from staging import Sandbox, Settings
    from staging.home import SandboxHome
    from staging.registry.scenarios import CREDIT

    port, watcher_port = free_port(), free_port()
    uri = f"http://127.0.0.1:{port}"
    server_env = {**os.environ, "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
                  "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(), "MLFLOW_WEBHOOK_CACHE_TTL": "1"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{scratch}/mlflow.db", "--artifacts-destination",
                               str(scratch / "artifacts"), "--serve-artifacts", "--workers", "1"], env=server_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    watcher = None
    try:
        wait_until_up(f"{uri}/health", 120)
        home = scratch / "watch-home"
        os.environ["STAGING_TRACKING_URI"] = uri
        try:
            Sandbox(SandboxHome.from_env(home), backend="process", settings=Settings.from_env()).load_demo()
        finally:
            del os.environ["STAGING_TRACKING_URI"]
        env = {**os.environ, "STAGING_TRACKING_URI": uri, "STAGING_WEBHOOK_SECRET": secrets.token_urlsafe(32)}
        watcher = subprocess.Popen([sys.executable, "-m", "staging", "watch", "--home", str(home), "--model", MODEL,
                                    "--traffic", str(CREDIT.file("traffic")), "--requests", str(requests_sent),
                                    "--backend", "process", "--port", str(watcher_port), "--settle", "1s",
                                    "--register"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        wait_until_up(f"http://127.0.0.1:{watcher_port}/health", 120)
        client = MlflowClient(uri, uri)
        source = client.get_model_version(MODEL, "2")
        version = str(client.create_model_version(MODEL, source.source, run_id=source.run_id,
                                                  model_id=source.source.removeprefix("models:/")).version)
        since, began = time.time(), time.perf_counter()
        client.set_registered_model_alias(MODEL, "challenger", version)
        while "sandbox.verdict" not in client.get_model_version(MODEL, version).tags:
            if time.perf_counter() - began > 900:
                raise SystemExit("no verdict within 900 s; see " + str(home / "logs" / "watcher.log"))
            time.sleep(0.2)
        took = time.perf_counter() - began
        timeline = _timeline(home / "logs" / "watcher.log", since) | {"tagged": round(took, 2)}
        return took, timeline
    finally:
        for process in (watcher, server):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = 50_000 if args.quick else 1_000_000
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's line per request

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    import boto3

    from staging import Sandbox
    from staging.home import SandboxHome
    from staging.registry.scenarios import CREDIT

    with tempfile.TemporaryDirectory() as scratch:
        home = SandboxHome.from_env(Path(scratch) / "home").ensure()
        traffic = pd.read_parquet(CREDIT.file("traffic"))
        big = traffic.sample(rows, replace=True, random_state=0).reset_index(drop=True)
        big["request_id"] = [f"r{i}" for i in range(rows)]
        big["timestamp"] = pd.Timestamp("2026-10-05", tz="UTC") + pd.to_timedelta(np.arange(rows) * 0.25, unit="s")
        local = Path(scratch) / "traffic.parquet"
        big.to_parquet(local, index=False)
        boto3.client("s3").create_bucket(Bucket="bench")
        boto3.client("s3").upload_file(str(local), "bench", "captures/traffic.parquet")
        with Sandbox(home, backend="process") as box:
            box.load_demo()
            box.prepare_traffic(CREDIT.model_name, CREDIT.file("traffic"))  # the registry and readers warmed
            local_times, s3_times = [], []
            for _ in range(2):  # side by side, twice; the faster of each
                began = time.perf_counter()
                here = box.prepare_traffic(CREDIT.model_name, local)
                local_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                there = box.prepare_traffic(CREDIT.model_name, "s3://bench/captures/traffic.parquet")
                s3_times.append(time.perf_counter() - began)
            local_s, s3_s, cached_s = min(local_times), s3_times[0], s3_times[1]
        assert here.report.rows_valid == there.report.rows_valid
        server.stop()
        verdict_s, timeline = webhook_to_verdict(Path(scratch), 100 if args.quick else 1000)
    publish("pipeline", {"rows": rows, "local_read_1m_rows_s": round(local_s, 2),
                         "s3_read_1m_rows_s": round(s3_s, 2), "s3_over_local": round(s3_s / local_s, 2),
                         "s3_cached_read_s": round(cached_s, 2), "webhook_to_verdict_s": round(verdict_s, 2),
                         "webhook_requests": 100 if args.quick else 1000, "webhook_timeline": timeline})


if __name__ == "__main__":
    main()
