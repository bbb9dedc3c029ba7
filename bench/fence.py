"""What fencing a model container costs a request: the socket bridge's two hops (host port ->
Unix socket -> the container's loopback), side by side with the same server reached directly,
in one run.

    python bench/fence.py [--requests 3000]

Starts the stub scoring server (bench/stub_server.py, uvicorn like MLflow's) on 127.0.0.1, the
in-container side of `staging/backends/docker/socket_bridge.py` (unix-to-tcp) and its host side
(tcp-to-unix), then sends the same POST /invocations alternately to the server and through the
bridges over kept-alive connections. Prints one JSON object: `direct_p50_ms`, `bridged_p50_ms`,
`socket_bridge_overhead_p50_ms` (their difference), `bridged_to_direct_p50_ratio`, and p99s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from common import parse_with_quick, publish, wait_until_up

from staging.backends.process import free_port

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "staging" / "backends" / "docker" / "socket_bridge.py"
BODY = b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parse_with_quick(parser, requests=100)
    folder = Path(tempfile.mkdtemp(prefix="fence-"))
    sock = folder / "server.sock"
    port = free_port()
    processes = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_server.py"), str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    processes.append(subprocess.Popen([sys.executable, str(BRIDGE), "unix-to-tcp", str(sock), "127.0.0.1", str(port)]))
    host_side = subprocess.Popen([sys.executable, str(BRIDGE), "tcp-to-unix", "127.0.0.1", "0", str(sock)],
                                 stdout=subprocess.PIPE, text=True)
    processes.append(host_side)
    try:
        bridged_port = int(host_side.stdout.readline()) if host_side.stdout else 0
        urls = {"direct": f"http://127.0.0.1:{port}", "bridged": f"http://127.0.0.1:{bridged_port}"}
        for url in urls.values():
            wait_until_up(f"{url}/ping", 30)
        sessions = {name: requests.Session() for name in urls}
        times: dict[str, list[float]] = {name: [] for name in urls}
        for i in range(args.requests + 200):
            for name in (("direct", "bridged") if i % 2 else ("bridged", "direct")):  # alternate who goes first
                began = time.perf_counter()
                answer = sessions[name].post(f"{urls[name]}/invocations", data=BODY,
                                             headers={"Content-Type": "application/json"})
                elapsed = (time.perf_counter() - began) * 1000
                assert answer.status_code == 200
                if i >= 200:  # warm-up excluded
                    times[name].append(elapsed)
        p50 = {name: float(np.percentile(values, 50)) for name, values in times.items()}
        p99 = {name: float(np.percentile(values, 99)) for name, values in times.items()}
        publish("fence", {"requests": args.requests, "direct_p50_ms": round(p50["direct"], 3),
                          "bridged_p50_ms": round(p50["bridged"], 3),
                          "socket_bridge_overhead_p50_ms": round(p50["bridged"] - p50["direct"], 3),
                          "bridged_to_direct_p50_ratio": round(p50["bridged"] / p50["direct"], 3),
                          "direct_p99_ms": round(p99["direct"], 3), "bridged_p99_ms": round(p99["bridged"], 3)})
    finally:
        for process in processes:
            process.terminate()


if __name__ == "__main__":
    main()
