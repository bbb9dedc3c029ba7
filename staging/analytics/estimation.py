"""Quality estimated before the labels land, for champion and challenger, and whether the
estimate can be trusted on this run.

Classifiers: confidence-based performance estimation (CBPE, as NannyML does it). Each model's
positive-class scores are calibrated with isotonic regression on a labelled reference, but
only when that lowers the expected calibration error in a 10-fold stratified check (NannyML's
`needs_calibration`); the calibrated probability then gives every request an expected
confusion-matrix cell, and accuracy, precision, recall, F1 and ROC AUC follow from their sums.
Several classes: NannyML's multiclass CBPE calibrates each class's probability against the
rest (one-vs-rest isotonic maps, `OneVsRestCalibration`), renormalises each row, and reads the
expected correctness of an answer as the calibrated probability of the class it answered;
the estimate is then accuracy's, through the same machinery as two classes ("correct" as the
outcome, the confidence as its score). Precision, recall and ROC AUC per class are not
estimated for several classes.
Regressions: direct loss estimation (DLE): per model, a gradient-boosted tree learns each
reference prediction's absolute and squared error from the features and the prediction, and
the mean of its predictions estimates MAE and RMSE.

An estimate is checked against the labels that did arrive (`backtest`): per window, the
realised value must fall inside the estimate's band (± 3 sampling errors, the reference's
spread scaled to the window's size). A window outside its band means the reference no longer
describes the traffic (concept drift, say), and the estimate is not used there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedShuffleSplit

from ..roles import CHALLENGER, CHAMPION

BAND_WIDTH = 3.0  # sampling errors either side, as NannyML's confidence band
MIN_REFERENCE_CHUNKS = 6  # NannyML warns below this many reference chunks of a window's size
MIN_BACKTEST_LABELS = 30
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse")


@dataclass(frozen=True)
class Calibration:
    """A model's isotonic map from score to probability, or the identity when calibrating did
    not lower the expected calibration error on held-out reference rows."""

    applied: bool
    thresholds_x: np.ndarray
    thresholds_y: np.ndarray
    ece_before: float
    ece_after: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, float)
        if not self.applied:
            return scores
        return np.interp(scores, self.thresholds_x, self.thresholds_y)  # clipped at the ends, as out_of_bounds="clip"


def _isotonic(scores: np.ndarray, truth: np.ndarray) -> IsotonicRegression:
    return IsotonicRegression(out_of_bounds="clip", increasing=True).fit(scores, truth)


def _bin_edges(length: int, bins: int) -> list[tuple[int, int]]:
    if length <= 2 * bins:
        bins = max(length // 2, 1)
    width = length // bins
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(zip(edges[:-1], edges[1:], strict=False))


def expected_calibration_error(truth: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-count bins of the sorted probabilities."""
    order = np.argsort(probability, kind="stable")
    probability, truth = np.asarray(probability, float)[order], np.asarray(truth, float)[order]
    total = 0.0
    for left, right in _bin_edges(len(probability), bins):
        if right > left:
            total += (right - left) / len(probability) * abs(probability[left:right].mean() - truth[left:right].mean())
    return float(total)


def fit_calibration(scores: np.ndarray, truth: np.ndarray, splits: int = 10, seed: int = 42) -> Calibration:
    """Isotonic calibration of positive-class `scores` against 0/1 `truth`, kept only when it
    lowers the ECE of held-out rows (10 stratified 90/10 splits, pooled), as NannyML decides."""
    scores, truth = np.asarray(scores, float), np.asarray(truth, int)
    identity = Calibration(False, np.array([0.0, 1.0]), np.array([0.0, 1.0]), float("nan"), float("nan"))
    if len(np.unique(truth)) < 2 or len(truth) < 20 or np.bincount(truth).min() < 2:
        return identity  # a class with one example cannot be split into held-out folds
    from .quality import roc_auc

    if roc_auc(truth.astype(bool), scores) > 0.999:
        return identity
    held_truth, held_raw, held_calibrated = [], [], []
    for train, test in StratifiedShuffleSplit(n_splits=splits, test_size=0.1, random_state=seed).split(scores, truth):
        model = _isotonic(scores[train], truth[train])
        held_truth.append(truth[test])
        held_raw.append(scores[test])
        held_calibrated.append(model.predict(scores[test]))
    pooled_truth, pooled_raw, pooled_calibrated = map(np.concatenate, (held_truth, held_raw, held_calibrated))
    before = expected_calibration_error(pooled_truth, pooled_raw)
    after = expected_calibration_error(pooled_truth, pooled_calibrated)
    model = _isotonic(scores, truth)
    return Calibration(bool(before > after), np.asarray(model.X_thresholds_, float),
                       np.asarray(model.y_thresholds_, float), before, after)


@dataclass(frozen=True)
class OneVsRestCalibration:
    """Each class's probability calibrated against the rest on the labelled reference."""

    maps: tuple[Calibration, ...]

    @classmethod
    def fit(cls, proba: np.ndarray, truth_index: np.ndarray) -> OneVsRestCalibration:
        return cls(tuple(fit_calibration(proba[:, j], (truth_index == j).astype(int)) for j in range(proba.shape[1])))

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        calibrated = np.column_stack([m(proba[:, j]) for j, m in enumerate(self.maps)])
        total = calibrated.sum(axis=1, keepdims=True)
        return np.where(total > 0, calibrated / np.where(total > 0, total, 1), 1.0 / proba.shape[1])

    def confidence(self, proba: np.ndarray, answered_index: np.ndarray) -> np.ndarray:
        """The calibrated probability of the class each answer gave: its expected correctness."""
        return self(proba)[np.arange(len(answered_index)), answered_index]


def cbpe_metrics(probability: np.ndarray, predicted_positive: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Expected accuracy, precision, recall, F1 and ROC AUC from calibrated probabilities of
    the positive class and the model's own decisions (NannyML's formulas)."""
    p = np.asarray(probability, float)
    yes = np.asarray(predicted_positive, bool)
    if p.size == 0:
        return dict.fromkeys(CLASSIFICATION_METRICS, float("nan"))
    tp, fp = float(p[yes].sum()), float((1 - p[yes]).sum())
    fn = float(p[~yes].sum())
    out = {"accuracy": float(np.mean(np.where(yes, p, 1 - p))),
           "precision": tp / (tp + fp) if tp + fp else float("nan"),
           "recall": tp / (tp + fn) if tp + fn else float("nan"),
           "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")}
    order = np.argsort(np.asarray(scores, float), kind="stable")[::-1]
    cumulative = np.cumsum(p[order])
    true_pos = np.round(np.concatenate([[0.0], cumulative]), 5)
    false_pos = np.round(np.concatenate([[0.0], 1 + np.arange(p.size) - cumulative]), 5)
    if true_pos[-1] > 0 and false_pos[-1] > 0:
        out["roc_auc"] = float(np.trapezoid(true_pos / true_pos[-1], false_pos / false_pos[-1]))
    else:
        out["roc_auc"] = float("nan")
    return out


def realised_metrics(truth: np.ndarray, predicted_positive: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from .quality import roc_auc

    truth, yes = np.asarray(truth, bool), np.asarray(predicted_positive, bool)
    tp, fp, fn = float((truth & yes).sum()), float((~truth & yes).sum()), float((truth & ~yes).sum())
    return {"accuracy": float(np.mean(truth == yes)) if truth.size else float("nan"),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
            "roc_auc": roc_auc(truth, scores)}


def reference_spread(truth: np.ndarray, predicted_positive: np.ndarray, scores: np.ndarray,
                     resamples: int = 200, seed: int = 7) -> dict[str, float]:
    """Each metric's standard deviation over bootstrap resamples of the reference (at the
    reference's own size); a window of n rows has sampling error spread * sqrt(m / n)."""
    rng = np.random.default_rng(seed)
    size = len(truth)
    draws = [realised_metrics(truth[idx], predicted_positive[idx], scores[idx])
             for idx in (rng.integers(0, size, size) for _ in range(resamples))]
    return {m: float(np.nanstd([d[m] for d in draws], ddof=1)) for m in CLASSIFICATION_METRICS}


@dataclass(frozen=True)
class ClassifierEstimator:
    """One model's calibration and reference spread, fitted on the labelled reference."""

    calibration: Calibration
    spread: dict[str, float]
    reference_size: int
    reference_score_range: tuple[float, float]

    @classmethod
    def fit(cls, truth: np.ndarray, predicted_positive: np.ndarray, scores: np.ndarray) -> ClassifierEstimator:
        truth, yes, scores = np.asarray(truth, int), np.asarray(predicted_positive, bool), np.asarray(scores, float)
        return cls(fit_calibration(scores, truth), reference_spread(truth.astype(bool), yes, scores), len(truth),
                   (float(scores.min()), float(scores.max())))

    def sampling_error(self, metric: str, rows: int) -> float:
        return self.spread[metric] * np.sqrt(self.reference_size / rows) if rows else float("nan")

    def estimate(self, predicted_positive: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        return cbpe_metrics(self.calibration(scores), predicted_positive, scores)


def estimated_difference(champion: ClassifierEstimator, challenger: ClassifierEstimator,
                         answers: dict[str, tuple[np.ndarray, np.ndarray]],
                         reference: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                         resamples: int = 100, seed: int = 11, differ: np.ndarray | None = None) -> dict[str, float]:
    """Estimated accuracy, challenger minus champion, on the same requests, with a 95% interval
    that holds two uncertainties: sampling (each request's correctness is a coin with the
    calibrated probability; law of total variance over the requests) and the estimate's own
    (both calibrations refitted on bootstrap resamples of the reference)."""
    expected = {}
    for role, estimator in ((CHAMPION, champion), (CHALLENGER, challenger)):
        yes, scores = answers[role]
        p = estimator.calibration(scores)
        expected[role] = np.where(yes, p, 1 - p)
    n = len(expected[CHAMPION])
    if n == 0:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "requests": 0}
    if differ is None:  # two classes: the models differ where one said positive and the other not
        differ = answers[CHAMPION][0] != answers[CHALLENGER][0]
    gap = expected[CHALLENGER] - expected[CHAMPION]
    # a request both decide alike gives no difference; one they split gives +1 or -1
    within = np.where(differ, 1 - gap ** 2, 0.0)
    sampling_var = (np.var(gap) + np.mean(within)) / n
    rng = np.random.default_rng(seed)
    refits = []
    for _ in range(resamples):
        means = {}
        for role in (CHAMPION, CHALLENGER):
            truth, _yes, ref_scores = reference[role]
            idx = rng.integers(0, len(truth), len(truth))
            yes, scores = answers[role]
            if (champion if role == CHAMPION else challenger).calibration.applied:
                p = _isotonic(ref_scores[idx], truth[idx]).predict(np.asarray(scores, float))
            else:  # the scores are used as they are; only sampling moves them
                p = np.asarray(scores, float)
            means[role] = float(np.mean(np.where(yes, p, 1 - p)))
        refits.append(means[CHALLENGER] - means[CHAMPION])
    estimate_var = float(np.var(refits, ddof=1)) if resamples > 1 else 0.0
    half = 1.959964 * np.sqrt(sampling_var + estimate_var)
    difference = float(np.mean(gap))
    return {"difference": difference, "low": difference - half, "high": difference + half, "requests": int(n),
            "sampling_se": float(np.sqrt(sampling_var)), "estimate_se": float(np.sqrt(estimate_var))}


@dataclass(frozen=True)
class LossEstimator:
    """DLE for one regression model: trees that predict its absolute and squared errors."""

    absolute: object
    squared: object
    spread: dict[str, float]
    reference_size: int

    @classmethod
    def fit(cls, features: pd.DataFrame, prediction: np.ndarray, truth: np.ndarray) -> LossEstimator:
        from sklearn.ensemble import HistGradientBoostingRegressor

        inputs = loss_inputs(features, prediction)
        error = np.asarray(truth, float) - np.asarray(prediction, float)
        absolute = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
        squared = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
        absolute.fit(inputs, np.abs(error))
        squared.fit(inputs, error ** 2)
        rng = np.random.default_rng(7)
        draws = [error[rng.integers(0, len(error), len(error))] for _ in range(200)]
        spread = {"mae": float(np.std([np.mean(np.abs(d)) for d in draws], ddof=1)),
                  "rmse": float(np.std([np.sqrt(np.mean(d ** 2)) for d in draws], ddof=1))}
        return cls(absolute, squared, spread, len(error))

    def sampling_error(self, metric: str, rows: int) -> float:
        return self.spread[metric] * np.sqrt(self.reference_size / rows) if rows else float("nan")

    def estimate(self, features: pd.DataFrame, prediction: np.ndarray) -> dict[str, float]:
        if len(prediction) == 0:
            return dict.fromkeys(REGRESSION_METRICS, float("nan"))
        inputs = loss_inputs(features, prediction)
        absolute = np.clip(self.absolute.predict(inputs), 0, None)  # type: ignore[attr-defined]
        squared = np.clip(self.squared.predict(inputs), 0, None)  # type: ignore[attr-defined]
        return {"mae": float(np.mean(absolute)), "rmse": float(np.sqrt(np.mean(squared)))}


def loss_inputs(features: pd.DataFrame, prediction: np.ndarray) -> pd.DataFrame:
    """Features (text as categories) plus the model's prediction, for the loss trees."""
    out = features.reset_index(drop=True).copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("string").astype("category")
        else:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["__prediction"] = np.asarray(prediction, float)
    return out


def realised_regression(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    error = np.asarray(truth, float) - np.asarray(prediction, float)
    if error.size == 0:
        return dict.fromkeys(REGRESSION_METRICS, float("nan"))
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2)))}


def backtest_verdict(table: pd.DataFrame, metric: str) -> dict:
    """From an estimate-by-window table (columns window, model, metric, estimated_on_labelled,
    realised, band_low, band_high, labelled): which windows were checked (those with enough
    labels), which failed, the mean absolute gap between the estimate on the labelled requests
    and the realised value, and the share of checked windows whose realised value fell in the band."""
    rows = table[(table["metric"] == metric) & (table["labelled"] >= MIN_BACKTEST_LABELS)
                 & table["realised"].notna() & table["estimated_on_labelled"].notna()]
    if rows.empty:
        return {"metric": metric, "checked_windows": [], "failed_windows": [], "mean_absolute_gap": None,
                "coverage": None, "passed": False,
                "why": f"no window has {MIN_BACKTEST_LABELS} labels yet to check the estimate against"}
    inside = rows["realised"].between(rows["band_low"], rows["band_high"])
    failed = sorted({str(w) for w in rows.loc[~inside, "window"]})
    checked = sorted({str(w) for w in rows["window"]})
    return {"metric": metric, "checked_windows": checked, "failed_windows": failed,
            "mean_absolute_gap": float((rows["estimated_on_labelled"] - rows["realised"]).abs().mean()),
            "coverage": float(inside.mean()), "passed": not failed,
            "why": ("the realised value fell inside the estimate's band in every checked window" if not failed
                    else f"the realised value left the estimate's band in {', '.join(failed)}")}
