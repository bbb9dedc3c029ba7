"""Estimated quality of one shadow run: both models' CBPE (classifiers) or DLE (regressions)
estimates per week and for the whole run, the estimated difference with its interval, the
back-test against the labels that arrived, and the assumptions checked on the run.

The labelled reference is the run's reference file: the same sample of it that the worker
scored with both models before the replay (`tables.reference_sample`), so each model's
answers on it line up with the reference's own outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..analytics.classes import ClassSpace, label_text, parse_probabilities
from ..analytics.compare import answered_by_both
from ..analytics.estimation import (
    BAND_WIDTH,
    CLASSIFICATION_METRICS,
    MIN_REFERENCE_CHUNKS,
    REGRESSION_METRICS,
    ClassifierEstimator,
    LossEstimator,
    OneVsRestCalibration,
    backtest_verdict,
    estimated_difference,
    loss_inputs,
    realised_metrics,
    realised_regression,
)
from ..roles import CHALLENGER, CHAMPION
from ..tables import reference_sample

ROLES = (CHAMPION, CHALLENGER)


@dataclass(frozen=True)
class EstimatedQuality:
    """What the Compare page, the gate, the report and `gate --json` show of the estimate."""

    method: str  # "CBPE" or "DLE"
    metric: str  # the headline metric: accuracy or mae
    by_window: pd.DataFrame  # window, model, metric, requests, labelled, estimated, estimated_on_labelled, realised, band
    whole_run: pd.DataFrame  # model, metric, estimated (all requests), estimated_unlabelled, realised (labelled)
    difference: dict  # challenger minus champion on the unlabelled requests, with its interval
    backtest: dict  # passed, failed_windows, mean_absolute_gap, coverage, why
    assumptions: list[dict] = field(default_factory=list)  # name, ok, sentence
    unlabelled: int = 0

    @property
    def usable(self) -> bool:
        return bool(self.backtest.get("passed"))

    def headline_by_window(self) -> pd.DataFrame:
        """The headline metric per week and model: estimated (all requests), the realised value on
        the labelled ones, the estimate's band there, and the labelled share."""
        rows = self.by_window[self.by_window["metric"] == self.metric].copy()
        rows["labelled_share"] = rows["labelled"] / rows["requests"].where(rows["requests"] > 0)
        rows["inside_band"] = rows["realised"].between(rows["band_low"], rows["band_high"]).where(rows["realised"].notna())
        return rows[["window", "model", "requests", "labelled", "labelled_share", "estimated", "estimated_on_labelled",
                     "realised", "band_low", "band_high", "inside_band"]].reset_index(drop=True)

    def assumptions_table(self) -> pd.DataFrame:
        return pd.DataFrame([{"assumption": a["name"], "holds": bool(a["ok"]), "on this run": a["sentence"]}
                             for a in self.assumptions])

    def as_dict(self) -> dict:
        """JSON-ready (NaN left for the caller's cleaner): what `gate --json` and the report carry."""
        backtest = {k: v for k, v in self.backtest.items() if k != "per_model"}
        return {"method": self.method, "metric": self.metric, "unlabelled": self.unlabelled, "usable": self.usable,
                "sentence": self.sentence(), "difference": self.difference, "backtest": backtest,
                "assumptions": self.assumptions, "whole_run": self.whole_run.to_dict("records"),
                "by_week": self.headline_by_window().to_dict("records")}

    def sentence(self) -> str:
        d = self.difference
        if d.get("requests", 0) == 0 or not np.isfinite(d.get("difference", np.nan)):
            return "Every answered request already has its label: no estimate is needed."
        unit = "points" if self.metric == "accuracy" else ""
        scale = 100 if self.metric == "accuracy" else 1
        text = (f"On the {d['requests']:,} requests without a label yet, the challenger's {self.metric} is estimated "
                f"{d['difference'] * scale:+.1f} {unit} against the champion's (95% interval {d['low'] * scale:+.1f} "
                f"to {d['high'] * scale:+.1f}, the estimate's own uncertainty included).").replace("  ", " ")
        if self.usable:
            return text + " The estimate passed its back-test on the labelled weeks, so the gate may use it."
        return text + f" It is not trusted: {self.backtest['why']}."


def reference_rows(reference: pd.DataFrame, reference_scores: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    """Per model, the scored reference sample with its outcome beside the model's answers."""
    sample = reference_sample(reference).reset_index(drop=True)
    out = {}
    answer_columns = [c for c in ("prediction", "score", "probabilities") if c in reference_scores]
    for role in ROLES:
        answers = reference_scores[reference_scores["target"] == role].reset_index(drop=True)
        if len(answers) != len(sample):
            return None
        out[role] = pd.concat([sample, answers[answer_columns]], axis=1)
    return out


def estimate_quality(pairs: pd.DataFrame, requests: pd.DataFrame, labels: pd.DataFrame | None, target: str,
                     task: str, reference: dict[str, pd.DataFrame], features: list[str],
                     drifted_features: list[str] | None = None, space: ClassSpace | None = None,
                     proba: dict | None = None) -> EstimatedQuality | str:
    """The estimate, or the reason (in words) it cannot be made on this run. `proba` holds each
    model's probability matrix aligned with `pairs` (classifiers)."""
    ok = answered_by_both(pairs)
    both = ok.reset_index().merge(requests, on="request_id", how="left")
    if both.empty:
        return "no request was answered by both models"
    if any(target not in reference[role].columns for role in ROLES):
        return f"the training reference has no column '{target}' (the outcome)"
    if labels is not None and target in labels.columns:
        both = both.merge(labels[["request_id", target]].dropna().rename(columns={target: "__truth"}),
                          on="request_id", how="left")
    else:
        both["__truth"] = np.nan
    if "timestamp" in both.columns and both["timestamp"].notna().any():
        both["window"] = pd.to_datetime(both["timestamp"]).dt.tz_localize(None).dt.to_period("W").dt.start_time
        both["window"] = both["window"].dt.strftime("week of %Y-%m-%d").fillna("no time")
    else:
        both["window"] = "whole run"
    if task == "regression":
        return _regression(both, reference, target, features, drifted_features or [])
    assert space is not None
    if any((proba or {}).get(role) is None for role in ROLES):
        return "the models answer labels only: CBPE needs each answer's class probabilities"
    matrices = {role: proba[role][both["index"].to_numpy()] for role in ROLES}  # type: ignore[index]
    return _classification(both, reference, target, drifted_features or [], space, matrices)


def _correctness_view(space: ClassSpace, reference: dict[str, pd.DataFrame], target: str,
                      matrices: dict[str, np.ndarray], both: pd.DataFrame) -> tuple[dict, dict, tuple[str, ...]] | str:
    """Per model, (truth, said positive, score) on the reference and (said positive, score) on the
    run, as CBPE reads them: the positive class for two classes; for several, "answered
    correctly" with the one-vs-rest calibrated confidence as its score."""
    ref_view, run_view = {}, {}
    for role in ROLES:
        ref = reference[role].dropna(subset=[target]).reset_index(drop=True)
        texts = ref["probabilities"] if "probabilities" in ref else pd.Series([""] * len(ref))
        ref_matrix, why = space.matrix(parse_probabilities(texts))
        if ref_matrix is None or np.isnan(ref_matrix).any():
            return "the models' answers on the training reference hold no class probabilities"
        truth = label_text(ref[target])
        said = space.fill_labels(ref["prediction"], ref_matrix)
        if space.binary:
            j = space.classes.index(space.positive)
            ref_view[role] = ((truth == space.positive).to_numpy().astype(int),
                              (said == space.positive).to_numpy(), ref_matrix[:, j])
            run_view[role] = ((both[f"{role}_prediction"].astype(str) == space.positive).to_numpy(),
                              matrices[role][:, j])
            continue
        calibration = OneVsRestCalibration.fit(ref_matrix, space.index(truth))
        ref_view[role] = ((truth == said).to_numpy().astype(int), np.ones(len(ref), bool),
                          calibration.confidence(ref_matrix, space.index(said)))
        answered = space.index(both[f"{role}_prediction"].astype(str))
        run_view[role] = (np.ones(len(both), bool), calibration.confidence(matrices[role], answered))
    return ref_view, run_view, CLASSIFICATION_METRICS if space.binary else ("accuracy",)


def _classification(both: pd.DataFrame, reference: dict[str, pd.DataFrame], target: str,
                    drifted: list[str], space: ClassSpace, matrices: dict[str, np.ndarray]) -> EstimatedQuality | str:
    view = _correctness_view(space, reference, target, matrices, both)
    if isinstance(view, str):
        return view
    ref_arrays, run_arrays, metrics = view
    estimators = {role: ClassifierEstimator.fit(*ref_arrays[role]) for role in ROLES}
    labelled_mask = both["__truth"].notna()
    truth_text = label_text(both["__truth"].fillna("")).to_numpy()
    if space.binary:
        truth_all = np.where(labelled_mask, truth_text == space.positive, False)
    rows, whole = [], []
    for role in ROLES:
        estimator = estimators[role]
        yes, scores = run_arrays[role]
        if not space.binary:  # "positive" is "answered correctly"
            truth_all = np.where(labelled_mask, truth_text == both[f"{role}_prediction"].astype(str).to_numpy(), False)
        for window, index in both.groupby("window", sort=True).indices.items():
            labelled = index[labelled_mask.to_numpy()[index]]
            on_all = estimator.estimate(yes[index], scores[index])
            on_labelled = estimator.estimate(yes[labelled], scores[labelled])
            realised = realised_metrics(truth_all[labelled], yes[labelled], scores[labelled]) if len(labelled) else {}
            for metric in metrics:
                error = estimator.sampling_error(metric, len(labelled))
                rows.append({"window": window, "model": role, "metric": metric, "requests": len(index),
                             "labelled": len(labelled), "estimated": on_all[metric],
                             "estimated_on_labelled": on_labelled[metric],
                             "realised": realised.get(metric, np.nan),
                             "band_low": on_labelled[metric] - BAND_WIDTH * error,
                             "band_high": on_labelled[metric] + BAND_WIDTH * error})
        unlabelled = ~labelled_mask.to_numpy()
        on_all = estimator.estimate(yes, scores)
        on_unlabelled = estimator.estimate(yes[unlabelled], scores[unlabelled])
        realised = realised_metrics(truth_all[~unlabelled], yes[~unlabelled], scores[~unlabelled])
        for metric in metrics:
            whole.append({"model": role, "metric": metric, "estimated": on_all[metric],
                          "estimated_unlabelled": on_unlabelled[metric], "realised": realised[metric]})
    by_window = pd.DataFrame(rows)
    unlabelled = ~labelled_mask.to_numpy()
    answers = {role: (run_arrays[role][0][unlabelled], run_arrays[role][1][unlabelled]) for role in ROLES}
    answered = {role: both[f"{role}_prediction"].astype(str).to_numpy()[unlabelled] for role in ROLES}
    difference = estimated_difference(estimators[CHAMPION], estimators[CHALLENGER], answers, ref_arrays,
                                      differ=answered[CHAMPION] != answered[CHALLENGER])
    backtest = _both_models(by_window, "accuracy")
    assumptions = _classifier_assumptions(estimators, run_arrays, by_window, backtest, drifted)
    return EstimatedQuality("CBPE" if space.binary else "CBPE (one-vs-rest, several classes)", "accuracy", by_window,
                            pd.DataFrame(whole), difference, backtest, assumptions, int(unlabelled.sum()))


def _regression(both: pd.DataFrame, reference: dict[str, pd.DataFrame], target: str, features: list[str],
                drifted: list[str]) -> EstimatedQuality:
    estimators = {}
    for role in ROLES:
        ref = reference[role].dropna(subset=[target, "score"])
        estimators[role] = LossEstimator.fit(ref[features], ref["score"].astype(float).to_numpy(),
                                             ref[target].astype(float).to_numpy())
    labelled_mask = both["__truth"].notna().to_numpy()
    truth = pd.to_numeric(both["__truth"], errors="coerce").to_numpy()
    rows, whole, per_request = [], [], {}
    for role in ROLES:
        estimator = estimators[role]
        prediction = both[f"{role}_score"].astype(float).to_numpy()
        inputs = both[features]
        per_request[role] = np.clip(estimator.absolute.predict(loss_inputs(inputs, prediction)), 0, None)  # type: ignore[attr-defined]
        for window, index in both.groupby("window", sort=True).indices.items():
            labelled = index[labelled_mask[index]]
            on_all = estimator.estimate(inputs.iloc[index], prediction[index])
            on_labelled = estimator.estimate(inputs.iloc[labelled], prediction[labelled])
            realised = realised_regression(truth[labelled], prediction[labelled])
            for metric in REGRESSION_METRICS:
                error = estimator.sampling_error(metric, len(labelled))
                rows.append({"window": window, "model": role, "metric": metric, "requests": len(index),
                             "labelled": len(labelled), "estimated": on_all[metric],
                             "estimated_on_labelled": on_labelled[metric], "realised": realised[metric],
                             "band_low": on_labelled[metric] - BAND_WIDTH * error,
                             "band_high": on_labelled[metric] + BAND_WIDTH * error})
        on_all = estimator.estimate(inputs, prediction)
        on_unlabelled = estimator.estimate(inputs[~labelled_mask], prediction[~labelled_mask])
        realised = realised_regression(truth[labelled_mask], prediction[labelled_mask])
        for metric in REGRESSION_METRICS:
            whole.append({"model": role, "metric": metric, "estimated": on_all[metric],
                          "estimated_unlabelled": on_unlabelled[metric], "realised": realised[metric]})
    by_window = pd.DataFrame(rows)
    gap = (per_request[CHALLENGER] - per_request[CHAMPION])[~labelled_mask]
    n = int(gap.size)
    if n:
        # the estimate's own uncertainty: each loss model learnt its level from a reference of m rows,
        # whose MAE itself varies by `spread` over resamples; sampling: the per-request gaps
        estimate_var = sum(estimators[r].spread["mae"] ** 2 for r in ROLES)
        half = 1.959964 * np.sqrt(np.var(gap) / n + estimate_var)
        difference = {"difference": float(gap.mean()), "low": float(gap.mean() - half),
                      "high": float(gap.mean() + half), "requests": n,
                      "sampling_se": float(np.sqrt(np.var(gap) / n)), "estimate_se": float(np.sqrt(estimate_var))}
    else:
        difference = {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "requests": 0}
    backtest = _both_models(by_window, "mae")
    assumptions = [_backtest_assumption(backtest), _drift_assumption(drifted),
                   _size_assumption(estimators[CHAMPION].reference_size, by_window)]
    return EstimatedQuality("DLE", "mae", by_window, pd.DataFrame(whole), difference, backtest, assumptions, n)


def _both_models(by_window: pd.DataFrame, metric: str) -> dict:
    verdicts = {role: backtest_verdict(by_window[by_window["model"] == role], metric) for role in ROLES}
    failed = sorted(set(verdicts[CHAMPION]["failed_windows"]) | set(verdicts[CHALLENGER]["failed_windows"]))
    checked = sorted(set(verdicts[CHAMPION]["checked_windows"]) | set(verdicts[CHALLENGER]["checked_windows"]))
    gaps = [v["mean_absolute_gap"] for v in verdicts.values() if v["mean_absolute_gap"] is not None]
    cover = [v["coverage"] for v in verdicts.values() if v["coverage"] is not None]
    passed = bool(checked) and not failed
    if not checked:
        why = verdicts[CHAMPION]["why"]
    elif failed:
        why = f"the estimate failed its back-test on {', '.join(failed)}"
    else:
        why = "the realised value fell inside the estimate's band in every labelled week"
    return {"metric": metric, "passed": passed, "checked_windows": checked, "failed_windows": failed,
            "mean_absolute_gap": float(np.mean(gaps)) if gaps else None,
            "coverage": float(np.mean(cover)) if cover else None, "why": why,
            "per_model": verdicts}


def _classifier_assumptions(estimators: dict, run_arrays: dict, by_window: pd.DataFrame, backtest: dict,
                            drifted: list[str]) -> list[dict]:
    calibration = []
    for role in ROLES:
        c = estimators[role].calibration
        calibration.append(f"{role}: " + (f"isotonic calibration applied (held-out ECE {c.ece_before:.3f} → "
                                          f"{c.ece_after:.3f})" if c.applied else
                                          "scores used as they are (calibrating did not lower the held-out ECE)"))
    outside = []
    for role in ROLES:
        low, high = estimators[role].reference_score_range
        scores = pd.Series(run_arrays[role][1], dtype=float)
        outside.append(float(((scores < low) | (scores > high)).mean()))
    shift_ok = max(outside) <= 0.01
    return [
        {"name": "probabilities calibrated", "ok": True, "sentence": "; ".join(calibration) + "."},
        _backtest_assumption(backtest),
        {"name": "no covariate shift outside the reference", "ok": shift_ok and not drifted,
         "sentence": (f"{max(outside):.1%} of the run's scores lie outside the range the reference covered"
                      + (f"; the inputs drifted on {', '.join(drifted)}" if drifted else "; no input drifted") + ".")},
        _size_assumption(estimators[CHAMPION].reference_size, by_window),
    ]


def _backtest_assumption(backtest: dict) -> dict:
    return {"name": "no concept drift (back-test)", "ok": bool(backtest["passed"]), "sentence": backtest["why"] + "."}


def _drift_assumption(drifted: list[str]) -> dict:
    return {"name": "no covariate shift outside the reference", "ok": not drifted,
            "sentence": f"the inputs drifted on {', '.join(drifted)}." if drifted else "no input drifted."}


def _size_assumption(reference_size: int, by_window: pd.DataFrame) -> dict:
    window = float(by_window.groupby("window")["requests"].max().median()) if not by_window.empty else 0.0
    chunks = int(reference_size // window) if window else 0
    return {"name": "a large enough sample", "ok": chunks >= MIN_REFERENCE_CHUNKS,
            "sentence": (f"the reference holds {reference_size:,} scored rows: {chunks} chunks of a week's size "
                         f"({window:,.0f} requests); NannyML asks for at least {MIN_REFERENCE_CHUNKS}.")}
