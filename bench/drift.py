"""Benchmark: feature drift on 1M reference rows against 1M current rows, 40 columns
(30 numeric, 10 categorical), the sandbox against Evidently's DataDriftPreset, and the
Compare page on a 1M-request run.

Prints one JSON object:
  drift_1m_s                the sandbox's feature drift, cold: reference profile built from the file
                            (one column at a time), current columns sorted, every test plus PSI
  drift_1m_cached_reference_s  the same with the reference profile already cached (a second run)
  evidently_1m_s            Evidently 0.7.23's DataDriftPreset on the same two tables
  drift_ratio_vs_evidently  drift_1m_s / evidently_1m_s (measured in one run)
  verdicts_equal_evidently  the sandbox's drift verdict for every column equals Evidently's
  peak_rss_over_data        the memory the sandbox's drift process took for data and work (its peak RSS
                            less its RSS once imports were done, before any data was read) over the
                            two tables' in-memory size
  peak_rss_total_over_data  the same with the interpreter and libraries counted (interpreter_mb)
  evidently_peak_rss_over_data  the first measure for Evidently's process
  compare_page_1m_s         the Compare page (Streamlit's AppTest, the real page script) rendering
                            a finished 1M-request run whose analysis is stored, in a fresh session
                            with Streamlit's caches emptied (median of three)
  compare_page_1m_first_in_process_s  the first such render, which also pays the process's start
  analysis_1m_s             computing that analysis, once per run (again when labels arrive)

Each measurement runs in a fresh process, so peak memory is its own. Evidently runs in a
separate environment (it does not import with pandas 3): `bash bench/setup-evidently` makes
it; without it the Evidently keys are null.

Run: python bench/drift.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import parse_with_quick, publish

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_PYTHON = Path(os.environ.get("STAGING_EVIDENTLY_PYTHON", ROOT / ".venv-evidently" / "bin" / "python"))
NUMERIC = tuple(f"num_{i:02d}" for i in range(30))
CATEGORICAL = tuple(f"cat_{i}" for i in range(10))


def make_tables(rows: int, folder: Path) -> tuple[Path, Path, int]:
    """Reference and current tables. A third of the numeric columns and three categorical
    columns move by a clear amount; a few move by a hair (a real but negligible change);
    the rest are drawn from the same distribution. Some columns are integers, some have gaps."""
    rng = np.random.default_rng(0)
    tables = {}
    for name, shifted in (("reference", False), ("current", True)):
        data = {}
        for i, column in enumerate(NUMERIC):
            shift = (0.4 if i % 3 == 0 else 0.01 if i % 5 == 1 else 0.0) if shifted else 0.0
            if i % 4 == 0:
                data[column] = rng.poisson(8 + 10 * shift, rows)
            elif i % 4 == 1:
                data[column] = rng.gamma(2.0, 3.0 * (1 + shift), rows)
            else:
                values = rng.normal(shift, 1.0, rows)
                values[rng.random(rows) < 0.02] = np.nan
                data[column] = values
        for i, column in enumerate(CATEGORICAL):
            shares = np.array([0.4, 0.3, 0.2, 0.1]) if i > 2 or not shifted else np.array([0.25, 0.25, 0.25, 0.25])
            data[column] = pd.Series(np.array(["alpha", "beta", "gamma", "delta"])[
                rng.choice(4, rows, p=shares)]).astype("str")
        tables[name] = pd.DataFrame(data)
    paths = folder / "reference.parquet", folder / "current.parquet"
    tables["reference"].to_parquet(paths[0])
    tables["current"].to_parquet(paths[1])
    data_bytes = sum(int(t.memory_usage(deep=True).sum()) for t in tables.values())
    return *paths, data_bytes


def peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: on Linux a child started with
    fork and exec inherits its parent's ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_sandbox(reference_path: str, current_path: str) -> dict:
    """In a fresh process: the sandbox's feature drift, cold then with the profile cached. The
    current table is read as the run store reads a run's requests; the reference, as the app
    reads a training reference: one column at a time into its profile."""
    from staging.analytics.drift import feature_drift
    from staging.analytics.drift_samples import reference_profile
    from staging.tables import read_parquet_lean

    interpreter = peak_rss_bytes()  # imports done, no data yet
    current = read_parquet_lean(current_path)
    began = time.perf_counter()
    table = feature_drift(reference_profile(reference_path, NUMERIC, CATEGORICAL), current, NUMERIC, CATEGORICAL)
    cold = time.perf_counter() - began
    began = time.perf_counter()
    feature_drift(reference_profile(reference_path, NUMERIC, CATEGORICAL), current, NUMERIC, CATEGORICAL)
    cached = time.perf_counter() - began
    peak = peak_rss_bytes()
    return {"seconds": cold, "cached_seconds": cached, "peak_rss": peak, "interpreter_rss": interpreter,
            "columns": table.set_index("feature")[["test", "score", "drifted", "evidently_drifted"]]
            .to_dict(orient="index")}


def measure_evidently(reference_path: Path, current_path: Path) -> dict | None:
    if not EVIDENTLY_PYTHON.exists():
        return None
    out = subprocess.run([str(EVIDENTLY_PYTHON), str(ROOT / "bench" / "evidently_drift.py"), str(reference_path),
                          str(current_path), json.dumps({"numeric": NUMERIC, "categorical": CATEGORICAL})],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def in_fresh_process(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parse_with_quick(parser, rows=5000)
    if args.child:
        kind, *paths = args.child
        if kind == "drift":
            print(json.dumps(measure_sandbox(*paths), default=str))
        else:
            from compare_page import measure_compare_page  # a sibling: this folder is on the path
            print(json.dumps(measure_compare_page(*paths)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        reference_path, current_path, data_bytes = make_tables(args.rows, Path(tmp))
        ours = in_fresh_process("--child", "drift", str(reference_path), str(current_path))
        theirs = measure_evidently(reference_path, current_path)
        page = in_fresh_process("--child", "compare", str(args.rows), tmp)
    verdicts = {c: v["drifted"] for c, v in ours["columns"].items()}
    result = {
        "drift_1m_s": round(ours["seconds"], 2),
        "drift_1m_cached_reference_s": round(ours["cached_seconds"], 2),
        "evidently_1m_s": theirs and theirs["seconds"],
        "drift_ratio_vs_evidently": theirs and round(ours["seconds"] / theirs["seconds"], 4),
        "verdicts_equal_evidently": theirs and all(verdicts[c] == v["drifted"] for c, v in theirs["columns"].items()),
        "evidently_rule_equal_evidently": theirs and all(
            ours["columns"][c]["evidently_drifted"] == v["drifted"] for c, v in theirs["columns"].items()),
        "columns_drifted": sum(verdicts.values()),
        "peak_rss_over_data": round((ours["peak_rss"] - ours["interpreter_rss"]) / data_bytes, 3),
        "peak_rss_total_over_data": round(ours["peak_rss"] / data_bytes, 3),
        "interpreter_mb": round(ours["interpreter_rss"] / 2**20),
        "evidently_peak_rss_over_data": theirs and round(
            (theirs["peak_rss_mb"] - theirs["interpreter_rss_mb"]) * 2**20 / data_bytes, 3),
        "evidently_peak_rss_mb": theirs and theirs["peak_rss_mb"],
        "data_mb": round(data_bytes / 2**20, 1),
        **page,
    }
    publish("drift", result)


if __name__ == "__main__":
    main()
