"""The drift verdicts against real Evidently 0.7.23, run in its own environment on the same
files (it does not import with pandas 3; `bash bench/setup-evidently` makes the environment,
and scripts/test does so in CI)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import ROOT, oracle_python

from staging.analytics.drift import feature_drift

EVIDENTLY_PYTHON = oracle_python("evidently")

NUMERIC = ("gauss", "shifted", "gamma", "counts", "binary_num", "few_num", "gappy")
CATEGORICAL = ("colour", "moved_colour", "flag")


def tables(rng, n_ref: int, n_cur: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    def frame(n: int, shift: float) -> pd.DataFrame:
        gappy = rng.normal(shift, 1, n)
        gappy[rng.random(n) < 0.1] = np.nan
        return pd.DataFrame({
            "gauss": rng.normal(0, 1, n), "shifted": rng.normal(shift, 1, n), "gamma": rng.gamma(2, 1 + shift, n),
            "counts": rng.poisson(6 + 4 * shift, n), "binary_num": rng.integers(0, 2, n),
            "few_num": rng.integers(0, 4, n), "gappy": gappy,
            "colour": rng.choice(["red", "green", "blue"], n),
            "moved_colour": rng.choice(["red", "green", "blue"], n, p=[0.6 - 0.3 * shift, 0.3, 0.1 + 0.3 * shift]),
            "flag": rng.choice(["yes", "no"], n, p=[0.5 + 0.2 * shift, 0.5 - 0.2 * shift])})
    return frame(n_ref, 0.0), frame(n_cur, 0.5)


def evidently(reference: pd.DataFrame, current: pd.DataFrame, folder: Path) -> dict:
    reference.to_parquet(folder / "reference.parquet")
    current.to_parquet(folder / "current.parquet")
    out = subprocess.run([str(EVIDENTLY_PYTHON), str(ROOT / "bench" / "evidently_drift.py"),
                          str(folder / "reference.parquet"), str(folder / "current.parquet"),
                          json.dumps({"numeric": NUMERIC, "categorical": CATEGORICAL})],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("n_ref, n_cur", [(800, 600), (5000, 3000), (60_000, 40_000)],
                         ids=["p-value tests", "distances", "large"])
def test_tests_scores_and_verdicts_equal_evidently(tmp_path, n_ref, n_cur):
    reference, current = tables(np.random.default_rng(n_ref), n_ref, n_cur)
    theirs = evidently(reference, current, tmp_path)
    ours = feature_drift(reference, current, NUMERIC, CATEGORICAL).set_index("feature")
    for column, verdict in theirs["columns"].items():
        assert ours.loc[column, "test"] == verdict["test"], column
        assert ours.loc[column, "score"] == pytest.approx(verdict["score"], rel=1e-6, abs=1e-12), column
        assert ours.loc[column, "evidently_drifted"] == verdict["drifted"], column
    assert set(theirs["columns"]) == set(NUMERIC + CATEGORICAL)
    assert ours["evidently_drifted"].mean() >= 0.5 if theirs["dataset_drift"] else ours["evidently_drifted"].mean() < 0.5
