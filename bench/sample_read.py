"""Memory follows what is replayed, not the file's size: 100 requests sampled from a 5M-row
Parquet file, read and validated as `python -m staging replay --requests 100` does, beside
reading the whole file (the way it was before), each in a fresh process, in one run.

    python bench/sample_read.py [--rows 5000000] [--requests 100] [--no-full]

Prints one JSON object: `sample_5m_peak_rss_mb` (goal <= 600: the process's peak resident
memory, Python and the libraries included), `sample_5m_s`, `full_5m_peak_rss_mb` and
`full_5m_s` (the whole file read and validated, for comparison), and `file_mb`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import parse_with_quick, publish

from staging import SandboxHome
from staging.registry.demo import bootstrap_demo
from staging.registry.scenarios import CREDIT

READ = """
import sys
from staging import Sandbox, SandboxHome, TrafficSelection
from staging.traffic.selection import select_requests
home, path, rows = sys.argv[1], sys.argv[2], sys.argv[3]
with Sandbox(SandboxHome(home), backend="process") as box:
    validated = box.prepare_traffic("credit-default", path, sample_rows=int(rows) if rows != "all" else None)
    chosen = select_requests(validated.requests, TrafficSelection(sample_size=100))
assert len(chosen) == 100, len(chosen)
print([line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1])
"""


def big_file(folder: Path, rows: int) -> Path:
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    copies = int(np.ceil(rows / len(traffic)))
    frame = pd.concat([traffic] * copies, ignore_index=True).iloc[:rows]
    frame["request_id"] = [f"r{i:08d}" for i in range(len(frame))]
    path = folder / "traffic-5m.parquet"
    frame.to_parquet(path, index=False, row_group_size=250_000)
    return path


def measure(home: Path, path: Path, rows: str) -> tuple[float, float]:
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", READ, str(home), str(path), rows], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return int(out.stdout.split()[-1]) / 1024, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--no-full", action="store_true", help="skip reading the whole file")
    args = parse_with_quick(parser, rows=50000, requests=100)
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as folder:
        home = SandboxHome(Path(folder) / "home")
        bootstrap_demo(home, ("credit",))
        path = big_file(Path(folder), args.rows)
        result = {"file_mb": round(path.stat().st_size / 1e6, 1)}
        peak, seconds = measure(home.root, path, str(args.requests))
        result.update(sample_5m_peak_rss_mb=round(peak), sample_5m_s=round(seconds, 1))
        if not args.no_full:
            peak, seconds = measure(home.root, path, "all")
            result.update(full_5m_peak_rss_mb=round(peak), full_5m_s=round(seconds, 1))
    publish("sample_read", result)


if __name__ == "__main__":
    main()
