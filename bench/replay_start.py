"""Benchmark: from command to first request, on a 1 GB request log.

`python -m staging replay` on a 1 GB log of MLflow scoring payloads (2.7M credit requests),
against two stub servers at endpoint URLs, from a fresh home with the demo registered: how long
from the command's start until the first request reaches a model. The log is read and validated
before anything is sent, so this is the price of checking the input; it was paid twice before
the replay was prepared once (`--before DIR`: the same command run from a checkout of the commit
that validated twice, such as `git worktree add DIR 4d7140b`, measured in the same run).

Prints one JSON object:
  first_request_s          this checkout
  before_first_request_s   the checkout given with --before (absent without it)
  ratio_before_over_now    how many times longer the old path took
  log_mb, rows             the log

Run: python bench/replay_start.py [--megabytes 1024] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import parse_with_quick, publish, wait_until_up
from traffic_read import write_log

from staging.backends.process import free_port

ROOT = Path(__file__).resolve().parent.parent


def first_request_s(checkout: Path, home: Path, log: Path, work: Path) -> float:
    """Seconds from `python -m staging replay` starting (code from `checkout`) to the first request."""
    marker = work / "first-request"
    marker.unlink(missing_ok=True)
    ports = [free_port(), free_port()]
    stubs = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_server.py"), str(port),
                               "--first-request-file", str(marker)]) for port in ports]
    try:
        for port in ports:
            wait_until_up(f"http://127.0.0.1:{port}/ping", 30)
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        began = time.time()
        command = subprocess.Popen([sys.executable, "-m", "staging", "replay", "--model", "credit-default",
                                    "--traffic", str(log), "--backend", "endpoint", "--requests", "200",
                                    "--champion-url", f"http://127.0.0.1:{ports[0]}",
                                    "--challenger-url", f"http://127.0.0.1:{ports[1]}", "--home", str(home),
                                    "--json"], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not marker.exists() and command.poll() is None:
            time.sleep(0.05)
        if not marker.exists():
            raise RuntimeError(f"no request reached a model: {command.stderr.read().decode()[-2000:]}")
        seconds = float(marker.read_text()) - began
        command.wait(600)
        return seconds
    finally:
        for stub in stubs:
            stub.terminate()
            stub.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--before", help="a checkout of the commit to compare with (git worktree add DIR 4d7140b)")
    args = parse_with_quick(parser, megabytes=4)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "requests.jsonl"
        rows = write_log(log, args.megabytes)
        home = work / "home"
        subprocess.run([sys.executable, "-c", "from staging import SandboxHome; from staging.registry.demo import "
                        f"bootstrap_demo; bootstrap_demo(SandboxHome({str(home)!r}))"], cwd=ROOT, check=True,
                       capture_output=True)
        result = {"log_mb": round(log.stat().st_size / 2**20), "rows": rows,
                  "first_request_s": round(first_request_s(ROOT, home, log, work), 1)}
        if args.before:
            before = first_request_s(Path(args.before).resolve(), home, log, work)
            result.update(before_first_request_s=round(before, 1),
                          ratio_before_over_now=round(before / result["first_request_s"], 2))
    publish("replay_start", result)


if __name__ == "__main__":
    main()
