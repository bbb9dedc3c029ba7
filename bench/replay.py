"""Benchmark: the replay engine against wrk (Debian's package) on the same servers, in one run.

Prints one JSON object:
  stub_throughput_ratio_vs_wrk  engine req/s over wrk's, stub server (1 worker), 32 connections
  overhead_p50_ms               engine p50 latency minus the 5 ms a stub server sleeps, concurrency 1
                                (median of three rounds interleaved with wrk); latency is timed from
                                the moment the request is handed to the socket, as wrk times it
  wrk_overhead_p50_ms           the same for wrk
  v2_overhead_p50_ms            the engine's overhead speaking V2 (the same rows as one-row V2 tensors
                                to the stub's /v2/models/stub/infer), in the same interleaved rounds
  mlflow_throughput_ratio_vs_wrk  engine req/s over wrk's against a real MLflow scoring server
  schedule_p99_ms               p99 of actual minus intended send time, open loop at 200 req/s
  batch_1m_rows_s               1,000,000 recorded rows through both real models in batch mode,
                                from starting the replay (validation included) to the run closed
  peak_rss_mb_1m_requests       the replay worker's peak RSS replaying 1,000,000 single-row
                                requests in shadow mode (two stub servers), results compacted
  requests_1m_s                 how long that took
Each throughput pair is measured in three interleaved rounds (wrk, then the engine for about
as long); the ratio is the median of the rounds' ratios. wrk is installed with apt-get when missing.

Run: python bench/replay.py [--rows 1000000] [--requests 1000000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from common import parse_with_quick, publish

from staging import Sandbox, SandboxHome, TrafficSelection
from staging.backends.process import free_port
from staging.registry.scenarios import CREDIT
from staging.replay import ReplayProgress, ReplaySettings
from staging.replay.bodies import request_bodies
from staging.replay.engine import ReplayEngine
from staging.replay.plan import send_offsets
from staging.replay.worker import run_event_loop
from staging.runs import ModelEntry, RunManifest, RunStore, RunWriter, TrafficRecord, read_manifest
from staging.serving.endpoint import Endpoint
from staging.serving.protocols import V2Encoder

ROOT = Path(__file__).resolve().parent.parent


def bench_manifest(urls: dict[str, str], settings: ReplaySettings, features: list[str] | None = None) -> RunManifest:
    """A run manifest for replays against stub servers (no registry involved)."""
    return RunManifest(run_id="", model_name="stub",
                       models={role: ModelEntry("stub", "0", role, "models:/stub/0", url) for role, url in urls.items()},
                       backend="endpoint", features=tuple(features or ()), task="classification", target=None,
                       numeric=tuple(features or ()), categorical=(),
                       traffic=TrafficRecord(path="bench", sha256="0" * 64), settings=settings)


def start_stub(sleep_ms: float = 0.0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_server.py"), str(port),
                                "--sleep-ms", str(sleep_ms)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("the stub server did not start")


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk")


def run_wrk(url: str, body: bytes, connections: int, seconds: float, folder: Path) -> dict:
    script = folder / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [==[{body.decode()}]==]\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"{url}/invocations"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups()
    p50 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed answers:\n{out}")
    return {"rps": rps, "p50_ms": p50}


def engine_run(home: SandboxHome, urls: dict[str, str], bodies: list[bytes], settings: ReplaySettings,
               offsets: np.ndarray | None = None) -> tuple[float, pd.DataFrame]:
    """The replay engine itself, in this process, writing its journal as in a real run."""
    ids = [f"r{i:08d}" for i in range(len(bodies))]
    store = RunStore(home)
    folder = store.create(bench_manifest(urls, settings), pd.DataFrame({"request_id": ids[:1]}), pd.DataFrame())
    writer = RunWriter(folder, store.manifest(folder.name))
    endpoints = {role: Endpoint(role, url, "bench") for role, url in urls.items()}
    engine = ReplayEngine(endpoints, writer, settings, ReplayProgress(total=len(ids)), threading.Event())
    began = time.perf_counter()
    run_event_loop(engine.run([[i] for i in ids], bodies, offsets))
    elapsed = time.perf_counter() - began
    writer.finish("finished")
    results = pd.read_parquet(folder / "results.parquet")
    if (results["error"] != "").any():
        raise RuntimeError(f"the engine saw errors: {results.loc[results['error'] != '', 'error'].iloc[0]}")
    return elapsed, results


def throughput_pair(home, url, body, connections, seconds, folder, count) -> tuple[float, float]:
    """wrk and the engine, interleaved over three rounds at the same concurrency; the engine
    sends about as many requests as wrk answered in its round, so both run about as long.
    Returns the medians of wrk's and the engine's req/s (their ratio is taken round by round)."""
    settings = ReplaySettings(concurrency=connections, warmup_requests=0)  # wrk's round has just warmed it
    rounds = []
    for _ in range(3):
        wrk_rps = run_wrk(url, body, connections, seconds, folder)["rps"]
        requests_sent = max(int(wrk_rps * seconds), min(count, 2000))
        elapsed, _ = engine_run(home, {"champion": url}, [body] * requests_sent, settings)
        rounds.append((wrk_rps, requests_sent / elapsed))
    ratio = float(np.median([engine / wrk for wrk, engine in rounds]))
    wrk_median = float(np.median([wrk for wrk, _ in rounds]))
    return wrk_median, wrk_median * ratio


def credit_rows(rows: int) -> pd.DataFrame:
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    traffic["income"] = pd.to_numeric(traffic["income"], errors="coerce")
    traffic = traffic.dropna(subset=["income", "age"]).reset_index(drop=True)
    picked = traffic.iloc[np.random.default_rng(0).integers(0, len(traffic), rows)].reset_index(drop=True)
    picked["request_id"] = [f"b{i:08d}" for i in range(rows)]
    return picked


def peak_rss_worker(home: SandboxHome, urls: dict[str, str], count: int, features: list[str]) -> dict:
    """A prepared run of `count` requests replayed by the real worker process; its VmHWM."""
    requests_frame = credit_rows(count)
    manifest = bench_manifest(urls, ReplaySettings(concurrency=32, warmup_requests=0), features)
    folder = RunStore(home).create(manifest, requests_frame, pd.DataFrame())
    del requests_frame
    code = ("import sys; from staging.replay.worker import main; main([sys.argv[1]]); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    elapsed = time.perf_counter() - began
    rows = read_manifest(folder).rows
    return {"peak_rss_mb_1m_requests": round(int(out.stdout.split()[-1]) / 1024), "requests_1m_s": round(elapsed, 1),
            "requests_1m_answers": rows}


PARTS = ("stub", "overhead", "schedule", "memory", "mlflow", "batch")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the batch figure")
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests for the memory figure")
    parser.add_argument("--seconds", type=int, default=8, help="each wrk run")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"some of {','.join(PARTS)} (default: all)")
    args = parse_with_quick(parser, rows=2000, requests=2000, seconds=1)
    parts = set(args.parts.split(","))
    small = 0.05 if args.quick else 1.0  # the fixed request counts below, scaled down in the quick mode
    ensure_wrk()
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        folder = Path(tmp)
        home = SandboxHome(folder / "home").ensure()
        sample = credit_rows(1)
        box = Sandbox(home, backend="process")
        box.load_demo()
        features = list(box.prepare_traffic(CREDIT.model_name, CREDIT.file("traffic")).features)
        body = request_bodies(sample, tuple(features))[0]

        stub, stub_url = start_stub()
        second, second_url = start_stub()
        slow, slow_url = start_stub(sleep_ms=5)
        try:
            if "stub" in parts:
                wrk_rps, engine_rps = throughput_pair(home, stub_url, body, 32, args.seconds, folder, int(40_000 * small))
                result.update(stub_wrk_rps=round(wrk_rps), stub_engine_rps=round(engine_rps),
                              stub_throughput_ratio_vs_wrk=round(engine_rps / wrk_rps, 3))

            ours, theirs, v2 = [], [], []
            one = sample[features].astype(object).where(sample[features].notna(), None)
            v2_body = V2Encoder.for_frame(sample, features).body([tuple(one.iloc[0])])
            # interleaved rounds; this machine is shared, so the median of three
            for _ in range((1 if args.quick else 3) if "overhead" in parts else 0):
                theirs.append(run_wrk(slow_url, body, 1, args.seconds, folder)["p50_ms"] - 5.0)
                _, results = engine_run(home, {"champion": slow_url}, [body] * int(1500 * small),
                                        ReplaySettings(concurrency=1))
                ours.append(float(results["latency_ms"].median()) - 5.0)
                _, results = engine_run(home, {"champion": f"{slow_url}/v2/models/stub"}, [v2_body] * int(1500 * small),
                                        ReplaySettings(concurrency=1))
                assert (results["status"] == 200).all() and (results["prediction"] == "0").all()
                v2.append(float(results["latency_ms"].median()) - 5.0)
            if ours:
                result.update(overhead_p50_ms=round(float(np.median(ours)), 3),
                              v2_overhead_p50_ms=round(float(np.median(v2)), 3),
                              wrk_overhead_p50_ms=round(float(np.median(theirs)), 3),
                              overhead_p50_ms_rounds=[round(v, 3) for v in ours],
                              v2_overhead_p50_ms_rounds=[round(v, 3) for v in v2])

            if "schedule" in parts:
                rate = ReplaySettings(timing="rate", rate_per_s=200, warmup_requests=0)
                count = int(3000 * small)
                _, results = engine_run(home, {"champion": stub_url}, [body] * count, rate,
                                        send_offsets("rate", count, rate_per_s=200))
                late_ms = (results["actual_send"] - results["intended_send"]) * 1000
                result["schedule_p99_ms"] = round(float(np.percentile(late_ms, 99)), 3)
            if "memory" in parts:
                result.update(peak_rss_worker(home, {"champion": stub_url, "challenger": second_url}, args.requests,
                                              features))
        finally:
            for process in (stub, second, slow):
                process.terminate()

        if not parts & {"mlflow", "batch"}:
            print(json.dumps(result))
            return
        box.start_servers(CREDIT.model_name)
        try:
            url = box.servers["champion"].endpoint.url
            if "mlflow" in parts:
                wrk_rps, engine_rps = throughput_pair(home, url, body, 8, args.seconds, folder, int(800 * small) or 40)
                result.update(mlflow_wrk_rps=round(wrk_rps, 1), mlflow_engine_rps=round(engine_rps, 1),
                              mlflow_throughput_ratio_vs_wrk=round(engine_rps / wrk_rps, 3))
            if "batch" not in parts:
                print(json.dumps(result))
                return

            traffic_path = folder / "rows-1m.parquet"
            credit_rows(args.rows).to_parquet(traffic_path, index=False)
            began = time.perf_counter()
            handle = box.begin_replay(CREDIT.model_name, traffic_path, TrafficSelection(),
                                      ReplaySettings(batch_size=2000, concurrency=2, timeout_s=120, warmup_requests=1))
            handle.wait()
            result["batch_1m_rows_s"] = round(time.perf_counter() - began, 1)
            manifest = box.store.manifest(handle.run_id)
            result["batch_status"] = manifest.status
            result["batch_errors"] = manifest.summary.errors
        finally:
            box.close()
    publish("replay", result)


if __name__ == "__main__":
    main()
