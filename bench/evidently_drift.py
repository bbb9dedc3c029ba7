"""Evidently's own verdicts, for comparison: run with the Python of a separate environment.

Evidently 0.7.23 does not import with pandas 3, so this script runs in its own venv
(`bash bench/setup-evidently` makes one) and imports nothing from the `staging` package.
It reads two Parquet files, runs Evidently's DataDriftPreset with the column types given,
and prints one JSON object: seconds, peak_rss_mb, dataset_drift and, per column, the
test Evidently chose, its score, threshold and verdict.

Run: .venv-evidently/bin/python bench/evidently_drift.py REF.parquet CUR.parquet '{"numeric": [...], "categorical": [...]}'
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently.legacy.metric_preset import DataDriftPreset
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

# Evidently's display names, as this project's test names
TEST_NAMES = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
              "Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon",
              "PSI": "psi"}


def peak_rss_mb() -> float:
    """Peak resident set (VmHWM); ru_maxrss would include the parent's, inherited across exec."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    reference_path, current_path, columns = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    interpreter_mb = peak_rss_mb()  # imports done, no data yet
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    mapping = ColumnMapping(numerical_features=columns["numeric"], categorical_features=columns["categorical"],
                            target=None, prediction=None)
    began = time.perf_counter()
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    result = next(m["result"] for m in report.as_dict()["metrics"] if m["metric"] == "DataDriftTable")
    seconds = time.perf_counter() - began
    by_column = {name: {"test": TEST_NAMES.get(c["stattest_name"], c["stattest_name"]), "score": float(c["drift_score"]),
                        "threshold": float(c["stattest_threshold"]), "drifted": bool(c["drift_detected"])}
                 for name, c in result["drift_by_columns"].items()}
    print(json.dumps({"seconds": round(seconds, 2), "interpreter_rss_mb": round(interpreter_mb, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1),
                      "dataset_drift": bool(result["dataset_drift"]), "columns": by_column}))


if __name__ == "__main__":
    main()
