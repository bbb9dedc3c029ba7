"""Compute a run's evidence: read it from the store, join the late labels and the training
reference its manifest names, and call the pure analytics."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..analytics.compare import (
    agreement,
    answered_by_both,
    disagreements,
    flip_matrix,
    paired,
    replica_agreement,
    score_deltas,
    with_outcomes,
)
from ..analytics.drift import dataset_drift, drift_over_time, feature_drift, prediction_drift, score_histograms
from ..analytics.drift_samples import ReferenceProfile, reference_profile
from ..analytics.latency import (
    error_types,
    latency_histogram,
    latency_over_time,
    latency_table,
    paired_latency_ratio,
    percentile_intervals,
    percentile_ratios,
)
from ..analytics.paired import challenger_right_share, metric_difference_table, paired_correctness, unpaired_difference_table
from ..analytics.quality import own_requests_quality, quality_table
from ..analytics.segments import segment_table
from ..analytics.timeline import weekly_summary
from ..runs import RunManifest, RunStore
from ..tables import read_table as read_table_file
from .estimated import EstimatedQuality, estimate_quality, reference_rows
from .value import RunEvidence


@lru_cache(maxsize=8)
def _read_table(path: str, mtime: float) -> pd.DataFrame:
    return read_table_file(path)


def read_table(path: str | None) -> pd.DataFrame | None:
    """A labels or reference file, cached while it does not change."""
    if not path or not Path(path).exists():
        return None
    return _read_table(str(path), Path(path).stat().st_mtime)


def reference_for(manifest: RunManifest) -> ReferenceProfile | None:
    """The run's training reference, prepared once per file (sorted columns, value counts)."""
    path = manifest.reference_path
    if not path or not Path(path).exists():
        return None
    return reference_profile(path, manifest.numeric, manifest.categorical)


def estimated_quality(manifest: RunManifest, pairs: pd.DataFrame, requests: pd.DataFrame, labels: pd.DataFrame | None,
                      reference_scores: pd.DataFrame | None, drifted: list[str]) -> EstimatedQuality | None:
    """Both models' quality estimated without labels, when the run is a shadow run whose
    training reference holds the outcome and was scored by both models; else None."""
    reference = read_table(manifest.reference_path)
    target = manifest.target
    if manifest.split or reference is None or reference_scores is None or not target or target not in reference:
        return None
    rows = reference_rows(reference, reference_scores)
    if rows is None:
        return None
    return estimate_quality(pairs, requests, labels, target, manifest.task, rows, list(manifest.features), drifted)


def compute_evidence(store: RunStore, run_id: str) -> RunEvidence:
    """Read the run, join its late labels and training reference, and run the analytics."""
    manifest = store.manifest(run_id)
    task = manifest.task
    results = store.results(run_id)
    latency_views = {"latency_bins": latency_histogram(results), "latency_intervals": percentile_intervals(results),
                     "latency_timeline": latency_over_time(results), "latency_ratio": paired_latency_ratio(results),
                     "latency_ratios": percentile_ratios(results),
                     "errors": error_types(results)}
    requests = store.requests(run_id)
    pairs = paired(results)
    latency_views["score_gaps"] = score_deltas(pairs)
    if task != "regression":
        latency_views["flips"] = flip_matrix(pairs)
    labels = read_table(manifest.labels_path)
    target = manifest.target
    quality, labelled, right_share, paired_stats = None, 0, None, {}
    if target is None or labels is None or target not in labels.columns:
        labels = None  # no labels for this run (yet): quality is not computed
    elif manifest.split:
        quality = own_requests_quality(results, labels, target, task)
        labelled = int(quality["labelled"].sum())
        paired_stats.update(unpaired_difference_table(results, labels, target, task))
    else:
        quality = quality_table(pairs, labels, target, task)
        labelled = int(quality["labelled"].iloc[0])
        labelled_rows = answered_by_both(pairs).merge(labels[["request_id", target]].dropna(), on="request_id")
        right_share = challenger_right_share(labelled_rows, target, task)
        if task != "regression":
            paired_stats = paired_correctness(labelled_rows, target)
        paired_stats.update(metric_difference_table(labelled_rows, target, task))
        paired_stats["segments"] = segment_table(labelled_rows.merge(requests, on="request_id"), target, task,
                                                 manifest.numeric, manifest.categorical)
    reference = reference_for(manifest)
    drift = None
    if reference is not None and not requests.empty:
        columns = (manifest.numeric, manifest.categorical)
        drift = feature_drift(reference, requests, *columns)
        paired_stats["drift_timeline"] = drift_over_time(reference, requests, *columns)
    reference_scores = store.reference_scores(run_id)
    if reference_scores is not None:
        paired_stats["prediction_drift"] = prediction_drift(reference_scores, results)
        paired_stats["score_histograms"] = score_histograms(reference_scores, results)
    paired_stats["estimated"] = estimated_quality(manifest, pairs, requests, labels, reference_scores,
                                                  drift.loc[drift["drifted"], "feature"].tolist() if drift is not None
                                                  else [])
    return RunEvidence(manifest, task, agreement(pairs, task), quality, labelled, latency_table(results),
                       drift, dataset_drift(drift) if drift is not None else False,
                       with_outcomes(disagreements(pairs, requests, task), labels, target, task), right_share,
                       weekly_summary(pairs, requests, task, labels, target), replica_agreement(results, task),
                       **paired_stats, **latency_views)


