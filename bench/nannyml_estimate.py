"""NannyML's own estimates, for comparison: run with the Python of a separate environment.

NannyML brings lightgbm, statsmodels and plotting libraries the app does not need, so this
script runs in its own venv (`bash bench/setup-nannyml` makes one) and imports nothing from
the `staging` package. It reads a reference and an analysis Parquet file and prints one JSON
object: per chunk, NannyML's estimated metrics (and its sampling errors); for CBPE also
whether it calibrated and its calibrated probability at each score of a grid.

Run: .venv-nannyml/bin/python bench/nannyml_estimate.py REF.parquet ANALYSIS.parquet '{"method": "cbpe", "chunk_size": 500}'
     (CBPE columns: y_pred_proba, y_pred, y_true; multiclass CBPE ("cbpe_multiclass", with "classes"):
     proba_<class> per class, y_pred, y_true; DLE: the features named in "features", y_pred, y_true)
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
import nannyml as nml  # noqa: E402 - after silencing its import-time warnings


def chunks(result: pd.DataFrame, metrics: list[str]) -> list[dict]:
    rows = []
    for _, row in result.iterrows():
        rows.append({"chunk": int(row[("chunk", "chunk_index")]),
                     **{m: float(row[(m, "value")]) for m in metrics},
                     **{f"{m}_sampling_error": float(row[(m, "sampling_error")]) for m in metrics}})
    return rows


def main() -> None:
    reference, analysis = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    options = json.loads(sys.argv[3])
    size = int(options["chunk_size"])
    if options["method"] == "cbpe_multiclass":
        classes = options["classes"]
        metrics = ["accuracy"]
        estimator = nml.CBPE(y_pred_proba={c: f"proba_{c}" for c in classes}, y_pred="y_pred", y_true="y_true",
                             problem_type="classification_multiclass", metrics=metrics, chunk_size=size)
        estimator.fit(reference)
        result = estimator.estimate(analysis.drop(columns=["y_true"], errors="ignore")).filter(period="analysis")
        out = {}
    elif options["method"] == "cbpe":
        metrics = ["accuracy", "precision", "recall", "f1", "roc_auc"]
        estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                             problem_type="classification_binary", metrics=metrics, chunk_size=size)
        estimator.fit(reference)
        result = estimator.estimate(analysis.drop(columns=["y_true"], errors="ignore")).filter(period="analysis")
        grid = np.linspace(0, 1, 101)
        calibrated = estimator.calibrator.calibrate(grid) if estimator.needs_calibration else grid
        out = {"needs_calibration": bool(estimator.needs_calibration), "grid": grid.tolist(),
               "calibrated": np.asarray(calibrated, float).tolist()}
    else:
        metrics = ["mae", "rmse"]
        estimator = nml.DLE(feature_column_names=options["features"], y_pred="y_pred", y_true="y_true",
                            metrics=metrics, chunk_size=size)
        estimator.fit(reference)
        result = estimator.estimate(analysis.drop(columns=["y_true"], errors="ignore")).filter(period="analysis")
        out = {}
    out["chunks"] = chunks(result.to_df(), metrics)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
