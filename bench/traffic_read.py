"""Benchmark: reading and validating a large request log, for memory.

Writes a JSON Lines log of MLflow scoring payloads (credit rows, one per line) of about
`--megabytes` MB, then reads and validates it against the credit model's columns in a fresh
process, as the Replay page and `python -m staging replay` do. Prints one JSON object:
  log_mb                 the file's size
  rows                   requests in it
  read_validate_s        reading, parsing and validating it
  peak_rss_mb            that process's peak resident memory
  table_mb               the validated table's own size in memory

Run: python bench/traffic_read.py [--megabytes 1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import parse_with_quick, publish

from staging.registry.scenarios import CREDIT

ROOT = Path(__file__).resolve().parent.parent

SPECS = [("age", "double"), ("income", "double"), ("loan_amount", "double"), ("loan_term_months", "long"),
         ("employment_type", "string"), ("employment_years", "double"), ("housing", "string"),
         ("credit_history_years", "double"), ("num_open_accounts", "long"), ("prior_defaults", "long"),
         ("purpose", "string"), ("region", "string")]


def write_log(path: Path, megabytes: int) -> int:
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    columns = [name for name, _ in SPECS]
    values = traffic[columns].astype(object).where(traffic[columns].notna(), None).values.tolist()
    stamps = traffic["timestamp"].astype(str).tolist()
    rows, size, rng = 0, 0, np.random.default_rng(0)
    with open(path, "w") as handle:
        while size < megabytes * 2**20:
            lines = []
            for i in rng.integers(0, len(values), 10_000):
                lines.append(json.dumps({"request_id": f"r{rows:09d}", "timestamp": stamps[i],
                                         "body": {"dataframe_split": {"columns": columns, "data": [values[i]]}}},
                                        default=str))
                rows += 1
            text = "\n".join(lines) + "\n"
            handle.write(text)
            size += len(text)
    return rows


def measure(path: str) -> dict:
    from staging.traffic import FeatureSpec, load_and_validate

    specs = [FeatureSpec(name, kind, name not in ("employment_years", "housing")) for name, kind in SPECS]
    began = time.perf_counter()
    validated = load_and_validate(path, specs)
    seconds = time.perf_counter() - began
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    return {"read_validate_s": round(seconds, 1), "peak_rss_mb": round(peak / 1024),
            "table_mb": round(validated.requests.memory_usage(deep=True).sum() / 2**20),
            "valid_rows": validated.report.rows_valid}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parse_with_quick(parser, megabytes=4)
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        path = Path(tmp) / "requests.jsonl"
        rows = write_log(path, args.megabytes)
        out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                             check=True)
        publish("traffic_read", {"log_mb": round(path.stat().st_size / 2**20), "rows": rows,
                          **json.loads(out.stdout.strip().splitlines()[-1])})


if __name__ == "__main__":
    main()
