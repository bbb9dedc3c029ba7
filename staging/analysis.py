"""Everything the Compare and Drift pages (and the headless demo) show about one run.

`analyze_run` reads a run from the store, joins the late labels and the training
reference named in its manifest, and calls the pure analytics. The plain-language
sentences under the charts are written here too, so they can be tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .analytics.compare import (Agreement, agree_mask, agreement, answered_by_both, disagreements, flip_matrix,
                                paired, replica_agreement, score_deltas)
from .analytics.drift import (dataset_drift, drift_over_time, drift_sentence, feature_drift, prediction_drift,
                               score_histograms)
from .analytics.drift_samples import ReferenceProfile, reference_profile
from .analytics.large_sample import LARGE_SAMPLE, classification_differences, regression_differences
from .analytics.latency import (error_types, latency_histogram, latency_over_time, latency_table,
                                paired_latency_ratio, percentile_intervals)
from .analytics.quality import (classification_metrics, label_text, own_requests_quality, positive_class,
                                quality_table, regression_metrics)
from .analytics.segments import segment_table, worst_segment_sentence
from .analytics.timeline import weekly_summary
from .analytics.uncertainty import Interval, cohens_kappa, mcnemar_exact, metric_differences, paired_difference_ci
from .registry import CHALLENGER, CHAMPION, REPLICA
from .runstore import RunStore
from .tables import read_table as read_table_file


@dataclass(frozen=True)
class RunAnalysis:
    manifest: dict
    task: str
    agreement: Agreement
    quality: pd.DataFrame | None
    labelled: int
    latency: pd.DataFrame
    drift: pd.DataFrame | None
    dataset_drift: bool
    disagreements: pd.DataFrame
    challenger_right_when_differ: float | None
    weekly: pd.DataFrame
    noise_floor: Agreement | None = None
    accuracy_difference: Interval | None = None  # challenger minus champion, paired bootstrap 95% CI
    mcnemar_p: float | None = None
    kappa: float | None = None
    segments: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None  # every metric, challenger minus champion, 95% CI
    wilcoxon_p: float | None = None  # regression: paired absolute errors
    drift_timeline: pd.DataFrame | None = None  # feature x day (or week)
    prediction_drift: pd.DataFrame | None = None
    score_histograms: pd.DataFrame | None = None
    latency_bins: pd.DataFrame | None = None  # histogram per model
    latency_intervals: pd.DataFrame | None = None  # percentiles with bootstrap intervals
    latency_timeline: pd.DataFrame | None = None  # p50/p95 over the replay
    latency_ratio: dict | None = None  # per request, challenger / champion
    errors: pd.DataFrame | None = None  # failed answers by kind
    flips: pd.DataFrame | None = None  # champion's class x challenger's class (classifiers)
    score_gaps: pd.DataFrame | None = None  # histogram of challenger score minus champion score

    @property
    def drifted_features(self) -> list[str]:
        if self.drift is None:
            return []
        return self.drift.loc[self.drift["drifted"], "feature"].tolist()

    def agreement_sentence(self) -> str:
        mode = self.manifest.get("settings", {}).get("mode", "shadow")
        if mode != "shadow":
            return (f"This was a{'n A/B' if mode == 'ab' else ' canary'} run: each request met one model, so the two "
                    "cannot be compared request by request. Quality below is each model's on its own requests.")
        if not self.agreement.compared:
            return "No request was answered by both models, so there is nothing to compare yet."
        text = (f"The challenger agrees with the champion on {self.agreement.rate:.0%} of "
                f"{self.agreement.compared:,} requests ({self.agreement.rule}).")
        if self.challenger_right_when_differ is not None:
            text += (f" Where they differ and the true outcome is known, the challenger is right "
                     f"{self.challenger_right_when_differ:.0%} of the time.")
        return text

    def latency_sentence(self) -> str:
        champion, challenger = self.latency.loc[CHAMPION], self.latency.loc[CHALLENGER]
        if pd.isna(champion["p95_ms"]) or pd.isna(challenger["p95_ms"]):
            return "Latency cannot be compared: one model answered no request successfully."
        ratio = challenger["p95_ms"] / champion["p95_ms"]
        speed = "slower" if ratio > 1 else "faster"
        return (f"95% of the challenger's answers took at most {challenger['p95_ms']:.1f} ms against "
                f"{champion['p95_ms']:.1f} ms for the champion: {abs(ratio - 1):.0%} {speed}. "
                f"Errors: {challenger['error_rate']:.1%} against {champion['error_rate']:.1%}.")

    def quality_sentence(self) -> str | None:
        """The accuracy difference with its uncertainty, in words a reviewer can sign on."""
        if self.accuracy_difference is None or self.mcnemar_p is None:
            return None
        significant = self.mcnemar_p < 0.05
        return (f"Challenger accuracy minus champion accuracy: {self.accuracy_difference.text()}, on "
                f"{self.labelled:,} labelled requests. McNemar's exact test gives p = {self.mcnemar_p:.3g}: "
                + ("the difference is unlikely to be chance." if significant else
                   "a difference this size could be chance.")
                + f" Cohen's kappa between the two models is {self.kappa:.2f}.")

    def segment_sentence(self) -> str | None:
        return None if self.segments is None else worst_segment_sentence(self.segments)

    def noise_floor_sentence(self) -> str | None:
        """What a second copy of the champion shows: the differences that are only noise."""
        if self.noise_floor is None or REPLICA not in self.latency.index:
            return None
        ratio = self.replica_p95_ratio()
        challenger_ratio = self.latency.loc[CHALLENGER, "p95_ms"] / self.latency.loc[CHAMPION, "p95_ms"]
        disagreement = 1 - self.agreement.rate
        floor = 1 - self.noise_floor.rate
        labels = "a real difference" if disagreement > floor else "within the noise floor"
        speed = ("a real difference" if abs(challenger_ratio - 1) > abs(ratio - 1) else "within the noise floor")
        return (f"Noise floor: a second copy of the champion disagrees with it on {floor:.1%} of requests and its "
                f"p95 latency is {ratio:.2f}x the champion's. The challenger disagrees on {disagreement:.1%} "
                f"({labels}) and its p95 is {challenger_ratio:.2f}x ({speed}).")

    def replica_p95_ratio(self) -> float | None:
        """The champion replica's p95 over the champion's: how much latency moves by itself."""
        if REPLICA not in self.latency.index or not self.latency.loc[CHAMPION, "p95_ms"]:
            return None
        return float(self.latency.loc[REPLICA, "p95_ms"] / self.latency.loc[CHAMPION, "p95_ms"])

    def drift_sentence(self) -> str:
        if self.drift is None:
            return "No training reference was given for this run, so drift was not measured."
        return drift_sentence(self.drift)

    def headline(self) -> dict:
        """The numbers the headless demo prints, one dict per model."""
        out = {}
        for role in (CHAMPION, CHALLENGER):
            lat = self.latency.loc[role]
            quality = self.quality.loc[role].to_dict() if self.quality is not None else {}
            out[role] = {"version": self.manifest["models"][role]["version"],
                         "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"], "p99_ms": lat["p99_ms"],
                         "error_rate": lat["error_rate"],
                         "accuracy": quality.get("accuracy"), "mae": quality.get("mae")}
        return out


@lru_cache(maxsize=8)
def _read_table(path: str, mtime: float) -> pd.DataFrame:
    return read_table_file(path)


def read_table(path: str | None) -> pd.DataFrame | None:
    """A labels or reference file, cached while it does not change."""
    if not path or not Path(path).exists():
        return None
    return _read_table(str(path), Path(path).stat().st_mtime)


def reference_for(manifest: dict) -> ReferenceProfile | None:
    """The run's training reference, prepared once per file (sorted columns, value counts)."""
    path = manifest.get("reference_path")
    if not path or not Path(path).exists():
        return None
    return reference_profile(path, tuple(manifest["numeric"]), tuple(manifest["categorical"]))


def analyze_run(store: RunStore, run_id: str) -> RunAnalysis:
    manifest = store.manifest(run_id)
    task = manifest["task"]
    results = store.results(run_id)
    latency_views = {"latency_bins": latency_histogram(results), "latency_intervals": percentile_intervals(results),
                     "latency_timeline": latency_over_time(results), "latency_ratio": paired_latency_ratio(results),
                     "errors": error_types(results)}
    requests = store.requests(run_id)
    pairs = paired(results)
    latency_views["score_gaps"] = score_deltas(pairs)
    if task != "regression":
        latency_views["flips"] = flip_matrix(pairs)
    labels = read_table(manifest.get("labels_path"))
    target = manifest.get("target")
    quality, labelled, right_share, paired_stats = None, 0, None, {}
    split = manifest.get("settings", {}).get("mode", "shadow") != "shadow"
    if split and labels is not None and target in labels.columns:
        quality = own_requests_quality(results, labels, target, task)
        labelled = int(quality["labelled"].sum())
    elif labels is not None and target in labels.columns:
        quality = quality_table(pairs, labels, target, task)
        labelled = int(quality["labelled"].iloc[0])
        labelled_rows = answered_by_both(pairs).merge(labels[["request_id", target]].dropna(), on="request_id")
        right_share = _challenger_right_share(labelled_rows, target, task)
        if task != "regression":
            paired_stats = _paired_correctness(labelled_rows, target)
        paired_stats.update(_differences(labelled_rows, target, task))
        paired_stats["segments"] = segment_table(labelled_rows.merge(requests, on="request_id"), target, task,
                                                 tuple(manifest["numeric"]), tuple(manifest["categorical"]))
    reference = reference_for(manifest)
    drift = None
    if reference is not None and not requests.empty:
        columns = (tuple(manifest["numeric"]), tuple(manifest["categorical"]))
        drift = feature_drift(reference, requests, *columns)
        paired_stats["drift_timeline"] = drift_over_time(reference, requests, *columns)
    reference_scores = store.reference_scores(run_id)
    if reference_scores is not None:
        paired_stats["prediction_drift"] = prediction_drift(reference_scores, results)
        paired_stats["score_histograms"] = score_histograms(reference_scores, results)
    return RunAnalysis(manifest, task, agreement(pairs, task), quality, labelled, latency_table(results),
                       drift, dataset_drift(drift) if drift is not None else False,
                       disagreements(pairs, requests, task), right_share,
                       weekly_summary(pairs, requests, task, labels, target), replica_agreement(results, task),
                       **paired_stats, **latency_views)


ANALYSIS_FILE = "analysis.pkl"


@lru_cache(maxsize=1)
def analysis_code_hash() -> str:
    """A hash of the code that computes an analysis: a stored analysis from other code is stale."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted([root / "analysis.py", *(root / "analytics").glob("*.py")]):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(store: RunStore, run_id: str, manifest: dict) -> str:
    """What an analysis depends on: the code, the run's status and files, the labels and reference."""
    folder = store.folder(run_id)
    paths = [folder / "results.parquet", folder / "requests.parquet", folder / "reference_scores.parquet",
             manifest.get("labels_path"), manifest.get("reference_path")]
    parts: list = [analysis_code_hash(), manifest.get("status"), manifest.get("ended_at")]
    for path in paths:
        stat = Path(path).stat() if path and Path(path).exists() else None
        parts.append([str(path), stat and stat.st_size, stat and stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def stored_analysis(store: RunStore, run_id: str) -> RunAnalysis:
    """A run's analysis, computed once and kept in its folder until the results, the labels,
    the reference or the analysis code change (late labels arriving recompute it). A run still
    going is analysed afresh each time. This keeps the Compare page quick on a million requests."""
    manifest = store.manifest(run_id)
    if manifest.get("status") == "running":
        return analyze_run(store, run_id)
    path = store.folder(run_id) / ANALYSIS_FILE
    fingerprint = _fingerprint(store, run_id, manifest)
    if path.exists():
        try:
            with open(path, "rb") as handle:
                stored = pickle.load(handle)
            if stored.get("fingerprint") == fingerprint:
                return stored["analysis"]
        except Exception:  # noqa: BLE001 - a damaged or foreign cache file is recomputed, never trusted
            pass
    result = analyze_run(store, run_id)
    partial = path.with_suffix(".tmp")
    with open(partial, "wb") as handle:
        pickle.dump({"fingerprint": fingerprint, "analysis": result}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return result


def _paired_correctness(both: pd.DataFrame, target: str) -> dict:
    """Accuracy difference (paired bootstrap CI), McNemar's exact p and Cohen's kappa, on the
    labelled requests both models answered."""
    truth = label_text(both[target])
    champion = both[f"{CHAMPION}_prediction"].astype(str) == truth
    challenger = both[f"{CHALLENGER}_prediction"].astype(str) == truth
    return {"accuracy_difference": paired_difference_ci(champion, challenger),
            "mcnemar_p": mcnemar_exact(champion, challenger),
            "kappa": cohens_kappa(both[f"{CHAMPION}_prediction"], both[f"{CHALLENGER}_prediction"])}


def _challenger_right_share(both: pd.DataFrame, target: str, task: str) -> float | None:
    """Among labelled disagreements: how often the challenger is the closer (or correct) one."""
    differ = both[~agree_mask(both, task)]
    if differ.empty:
        return None
    if task == "regression":
        champion_err = (differ[f"{CHAMPION}_score"] - differ[target]).abs()
        challenger_err = (differ[f"{CHALLENGER}_score"] - differ[target]).abs()
        return float((challenger_err < champion_err).mean())
    return float((differ[f"{CHALLENGER}_prediction"].astype(str) == label_text(differ[target])).mean())


def _differences(rows: pd.DataFrame, target: str, task: str) -> dict:
    """Every quality metric's difference with a paired 95% interval (and, for a regression,
    Wilcoxon's signed-rank test on the paired absolute errors). Up to `LARGE_SAMPLE` labelled
    requests, a bootstrap over requests; above, the O(n) methods of `large_sample`."""
    if rows.empty:
        return {}
    large = len(rows) > LARGE_SAMPLE
    if task == "regression":
        truth = rows[target].to_numpy(float)
        a, b = rows[f"{CHAMPION}_score"].to_numpy(float), rows[f"{CHALLENGER}_score"].to_numpy(float)

        def metrics(y, pred):
            return {k: v for k, v in regression_metrics(y, pred).items() if k != "labelled"}

        gaps = np.abs(a - truth) - np.abs(b - truth)
        wilcoxon = float(stats.wilcoxon(gaps).pvalue) if np.any(gaps != 0) else 1.0
        table = regression_differences(truth, a, b) if large else metric_differences(truth, a, b, metrics, 500)
        return {"differences": _with_method(table), "wilcoxon_p": wilcoxon}
    truth = label_text(rows[target])
    predicted = {role: rows[f"{role}_prediction"].astype(str) for role in (CHAMPION, CHALLENGER)}
    if large:
        positive = positive_class(truth)
        table = classification_differences(
            truth == positive, predicted[CHAMPION] == positive, predicted[CHALLENGER] == positive,
            predicted[CHAMPION] == truth, predicted[CHALLENGER] == truth,
            rows[f"{CHAMPION}_score"].to_numpy(float), rows[f"{CHALLENGER}_score"].to_numpy(float))
        return {"differences": _with_method(table)}
    codes = {label: i for i, label in enumerate(sorted(set(truth) | set(predicted[CHAMPION]) | set(predicted[CHALLENGER])))}
    positive = str(codes[positive_class(truth)])

    def encoded(role: str) -> np.ndarray:
        return np.column_stack([predicted[role].map(codes).to_numpy(float), rows[f"{role}_score"].to_numpy(float)])

    def metrics(y, pred):
        values = classification_metrics(y.astype(int).astype(str), pred[:, 0].astype(int).astype(str), pred[:, 1],
                                        positive)
        return {k: v for k, v in values.items() if k != "labelled"}

    y = truth.map(codes).to_numpy(float)
    return {"differences": _with_method(metric_differences(y, encoded(CHAMPION), encoded(CHALLENGER), metrics, 500))}


def _with_method(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"method": "bootstrap over requests", **row} for row in rows])
