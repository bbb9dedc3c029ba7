"""The estimates before labels against real NannyML 0.13.1 (CBPE and DLE), run in its own
environment on the same files (`bash bench/setup-nannyml` makes it; scripts/test does so in CI).

CBPE follows NannyML's choices exactly (the calibrate-or-not decision on 10 stratified splits,
isotonic regression clipped at the ends, the expected confusion matrix, the expected ROC
curve), so the per-chunk estimates must agree to 1e-6: floating-point noise, nothing more.
DLE differs on purpose in one place: the loss model is scikit-learn's histogram gradient
boosting, not LightGBM (one dependency less, the same family of model). Two boosted trees fitted
to the same noisy losses agree only up to their fitting noise, so the tolerance is NannyML's
own sampling error of the chunk: the two estimates must lie within one of each other."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import ROOT, oracle_python

from staging.analytics.estimation import ClassifierEstimator, LossEstimator

NANNYML_PYTHON = oracle_python("nannyml")

CHUNK = 1000


def nannyml(reference: pd.DataFrame, analysis: pd.DataFrame, options: dict, folder: Path) -> dict:
    reference.to_parquet(folder / "reference.parquet")
    analysis.to_parquet(folder / "analysis.parquet")
    out = subprocess.run([str(NANNYML_PYTHON), str(ROOT / "bench" / "nannyml_estimate.py"),
                          str(folder / "reference.parquet"), str(folder / "analysis.parquet"), json.dumps(options)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def classifier_data(rng, n: int, shift: float, power: float) -> pd.DataFrame:
    """Scores whose true probability is score ** power: miscalibrated unless power is 1."""
    scores = np.clip(rng.beta(2 - shift, 2 + shift, n), 1e-6, 1 - 1e-6)
    truth = (rng.random(n) < scores ** power).astype(int)
    return pd.DataFrame({"y_pred_proba": scores, "y_pred": (scores >= 0.5).astype(int), "y_true": truth})


@pytest.mark.parametrize("power", [1.0, 1.8], ids=["calibrated scores", "miscalibrated scores"])
def test_cbpe_chunks_and_calibration_equal_nannyml(tmp_path, power):
    rng = np.random.default_rng(int(power * 10))
    reference, analysis = classifier_data(rng, 6000, 0.0, power), classifier_data(rng, 5 * CHUNK, 0.6, power)
    theirs = nannyml(reference, analysis, {"method": "cbpe", "chunk_size": CHUNK}, tmp_path)
    ours = ClassifierEstimator.fit(reference["y_true"].to_numpy(), reference["y_pred"].to_numpy().astype(bool),
                                   reference["y_pred_proba"].to_numpy())
    assert ours.calibration.applied == theirs["needs_calibration"]
    assert ours.calibration.applied == (power != 1.0)  # the case is what it says
    np.testing.assert_allclose(ours.calibration(np.array(theirs["grid"])), theirs["calibrated"], atol=1e-9)
    assert len(theirs["chunks"]) == 5
    for chunk in theirs["chunks"]:
        rows = analysis.iloc[chunk["chunk"] * CHUNK:(chunk["chunk"] + 1) * CHUNK]
        mine = ours.estimate(rows["y_pred"].to_numpy().astype(bool), rows["y_pred_proba"].to_numpy())
        for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert mine[metric] == pytest.approx(chunk[metric], abs=1e-6), (chunk["chunk"], metric)


def regression_data(rng, n: int, rain_share: float) -> pd.DataFrame:
    distance = rng.gamma(2.0, 2.0, n)
    weather = rng.choice(["dry", "rain"], n, p=[1 - rain_share, rain_share])
    noise_scale = np.where(weather == "rain", 6.0, 2.0) + 0.4 * distance
    truth = 10 + 3 * distance + np.where(weather == "rain", 5, 0) + rng.normal(0, 1, n) * noise_scale
    prediction = 10 + 3 * distance + np.where(weather == "rain", 3, 0)
    return pd.DataFrame({"distance": distance, "weather": weather, "y_pred": prediction, "y_true": truth})


def test_dle_chunks_agree_with_nannyml_within_its_sampling_error(tmp_path):
    rng = np.random.default_rng(5)
    reference, analysis = regression_data(rng, 6000, 0.15), regression_data(rng, 5 * CHUNK, 0.45)
    features = ["distance", "weather"]
    theirs = nannyml(reference.astype({"weather": "category"}), analysis.astype({"weather": "category"}),
                     {"method": "dle", "chunk_size": CHUNK, "features": features}, tmp_path)
    ours = LossEstimator.fit(reference[features], reference["y_pred"].to_numpy(), reference["y_true"].to_numpy())
    assert len(theirs["chunks"]) == 5
    for chunk in theirs["chunks"]:
        rows = analysis.iloc[chunk["chunk"] * CHUNK:(chunk["chunk"] + 1) * CHUNK]
        mine = ours.estimate(rows[features], rows["y_pred"].to_numpy())
        realised = np.mean(np.abs(rows["y_true"] - rows["y_pred"]))
        for metric in ("mae", "rmse"):
            assert abs(mine[metric] - chunk[metric]) <= chunk[f"{metric}_sampling_error"], (chunk, metric, mine)
        # both follow the shift to rainier weeks that a reference-average would miss
        assert abs(mine["mae"] - realised) < abs(np.mean(np.abs(reference["y_true"] - reference["y_pred"])) - realised)


def multiclass_data(rng, n: int, shift: float, classes=("ant", "bee", "cow")) -> pd.DataFrame:
    """Three classes whose softmax scores are overconfident (true probabilities are flatter)."""
    logits = rng.normal(0, 1, (n, len(classes))) + np.array([shift, 0, -shift])
    scores = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    truth_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(len(classes), p=p) for p in truth_p])
    frame = pd.DataFrame({f"proba_{c}": scores[:, i] for i, c in enumerate(classes)})
    return frame.assign(y_pred=np.array(classes)[scores.argmax(axis=1)], y_true=np.array(classes)[truth])


def test_multiclass_cbpe_accuracy_equals_nannyml(tmp_path):
    from staging.analytics.estimation import OneVsRestCalibration

    rng = np.random.default_rng(9)
    classes = ["ant", "bee", "cow"]
    reference, analysis = multiclass_data(rng, 6000, 0.0), multiclass_data(rng, 5 * CHUNK, 0.8)
    theirs = nannyml(reference, analysis, {"method": "cbpe_multiclass", "chunk_size": CHUNK, "classes": classes},
                     tmp_path)
    columns = [f"proba_{c}" for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    calibration = OneVsRestCalibration.fit(reference[columns].to_numpy(), reference["y_true"].map(index).to_numpy())
    assert len(theirs["chunks"]) == 5
    for chunk in theirs["chunks"]:
        rows = analysis.iloc[chunk["chunk"] * CHUNK:(chunk["chunk"] + 1) * CHUNK]
        confidence = calibration.confidence(rows[columns].to_numpy(), rows["y_pred"].map(index).to_numpy())
        assert 0 <= confidence.mean() <= 1
        assert confidence.mean() == pytest.approx(chunk["accuracy"], abs=1e-6), chunk
