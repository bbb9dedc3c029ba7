"""Quality estimated before labels: the estimator's pieces against independent computations
(scikit-learn's isotonic regression and ROC AUC) and by simulation (an estimate of calibrated
scores is unbiased; the difference's interval covers the realised difference about 95% of the
time; the back-test flags a week whose labels part from the estimate). The parity with NannyML
itself is in test_nannyml_parity.py; the demo's concept drift caught on a real replay in
test_estimated_quality.py."""

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from staging.analytics.estimation import (
    ClassifierEstimator,
    LossEstimator,
    backtest_verdict,
    cbpe_metrics,
    estimated_difference,
    expected_calibration_error,
    fit_calibration,
)
from staging.gate import default_policy, parse_policy


def scores_and_truth(rng, n, power=1.0):
    scores = rng.beta(2, 3, n)
    return scores, (rng.random(n) < scores ** power).astype(int)


def test_calibration_is_sklearns_isotonic_regression_and_only_when_it_helps():
    rng = np.random.default_rng(1)
    scores, truth = scores_and_truth(rng, 4000, power=2.0)
    calibration = fit_calibration(scores, truth)
    assert calibration.applied and calibration.ece_after < calibration.ece_before
    grid = np.linspace(-0.1, 1.1, 300)
    sklearn = IsotonicRegression(out_of_bounds="clip").fit(scores, truth).predict(grid)
    np.testing.assert_allclose(calibration(grid), sklearn, atol=1e-12)
    assert expected_calibration_error(truth, calibration(scores)) < expected_calibration_error(truth, scores)
    calibrated_scores, calibrated_truth = scores_and_truth(rng, 4000, power=1.0)
    assert not fit_calibration(calibrated_scores, calibrated_truth).applied  # nothing to fix: scores kept


def test_the_estimate_of_calibrated_scores_is_what_labels_give_on_average():
    rng = np.random.default_rng(2)
    scores = rng.beta(2, 3, 2000)
    predicted = scores >= 0.4
    estimate = cbpe_metrics(scores, predicted, scores)
    realised = {"accuracy": [], "precision": [], "recall": [], "f1": [], "roc_auc": []}
    for _ in range(400):
        truth = rng.random(scores.size) < scores
        tp, fp, fn = (truth & predicted).sum(), (~truth & predicted).sum(), (truth & ~predicted).sum()
        realised["accuracy"].append(np.mean(truth == predicted))
        realised["precision"].append(tp / (tp + fp))
        realised["recall"].append(tp / (tp + fn))
        realised["f1"].append(2 * tp / (2 * tp + fp + fn))
        realised["roc_auc"].append(roc_auc_score(truth, scores))
    for metric, values in realised.items():
        tolerance = 4 * np.std(values) / np.sqrt(len(values)) + 2e-3
        assert estimate[metric] == pytest.approx(np.mean(values), abs=tolerance), metric


def test_the_estimated_difference_interval_covers_the_realised_difference():
    rng = np.random.default_rng(3)
    covered, runs = 0, 120
    for _run in range(runs):
        reference, answers = {}, {}
        latent = rng.beta(2, 3, 2600)
        truth = (rng.random(latent.size) < latent).astype(int)
        for role, noise in (("champion", 0.10), ("challenger", 0.06)):
            scores = np.clip(latent + rng.normal(0, noise, latent.size), 0.001, 0.999)
            yes = scores >= 0.5
            reference[role] = (truth[:2000], yes[:2000], scores[:2000])
            answers[role] = (yes[2000:], scores[2000:])
        estimators = {role: ClassifierEstimator.fit(*reference[role]) for role in reference}
        result = estimated_difference(estimators["champion"], estimators["challenger"], answers, reference,
                                      resamples=30)
        later = truth[2000:]
        realised = np.mean(answers["challenger"][0] == later) - np.mean(answers["champion"][0] == later)
        covered += result["low"] <= realised <= result["high"]
    assert 0.88 <= covered / runs <= 1.0, covered / runs


def test_the_back_test_names_the_weeks_whose_labels_leave_the_band():
    table = pd.DataFrame({
        "window": ["week 1", "week 2", "week 3"], "model": "champion", "metric": "accuracy",
        "labelled": [400, 400, 10], "estimated_on_labelled": [0.80, 0.80, 0.80], "realised": [0.79, 0.70, 0.50],
        "band_low": [0.75, 0.75, 0.60], "band_high": [0.85, 0.85, 1.0]})
    verdict = backtest_verdict(table, "accuracy")
    assert verdict["failed_windows"] == ["week 2"] and not verdict["passed"]
    assert verdict["checked_windows"] == ["week 1", "week 2"]  # week 3 has too few labels to judge
    assert verdict["mean_absolute_gap"] == pytest.approx(0.055) and verdict["coverage"] == 0.5
    none_yet = backtest_verdict(table.assign(labelled=0), "accuracy")
    assert not none_yet["passed"] and "no window" in none_yet["why"]


def test_dle_follows_a_shift_towards_harder_requests():
    rng = np.random.default_rng(4)

    def frame(n, hard_share):
        hard = rng.random(n) < hard_share
        features = pd.DataFrame({"distance": rng.gamma(2, 2, n), "kind": np.where(hard, "hard", "easy")})
        prediction = 3 * features["distance"].to_numpy()
        truth = prediction + rng.normal(0, np.where(hard, 8.0, 1.0), n)
        return features, prediction, truth

    estimator = LossEstimator.fit(*frame(4000, 0.2))
    features, prediction, truth = frame(3000, 0.6)
    estimate = estimator.estimate(features, prediction)
    realised = np.mean(np.abs(truth - prediction))
    assert estimate["mae"] == pytest.approx(realised, rel=0.08)
    assert estimate["rmse"] == pytest.approx(np.sqrt(np.mean((truth - prediction) ** 2)), rel=0.1)


def test_the_policy_sets_what_a_failed_estimate_does():
    assert default_policy().estimated_quality == "warn"
    strict = parse_policy('[estimate]\naction = "fail"\n', "strict.toml")
    assert strict.estimated_quality == "fail"
    with pytest.raises(Exception, match="estimate.action"):
        parse_policy('[estimate]\naction = "maybe"\n', "bad.toml")
