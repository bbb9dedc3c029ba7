"""Compute a run's evidence: read it from the store, join the late labels and the training
reference its manifest names, and call the pure analytics."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..analytics.arms import arm_windows
from ..analytics.classes import label_text
from ..analytics.compare import (
    agreement,
    answered_by_both,
    disagreements,
    flip_matrix,
    paired,
    prediction_sample,
    replica_agreement,
    residual_histogram,
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
    shared_errors,
)
from ..analytics.paired import challenger_right_share, metric_difference_table, paired_correctness, unpaired_difference_table
from ..analytics.quality import confusion_matrix, own_requests_quality, per_class_table, quality_table
from ..analytics.segments import segment_table
from ..analytics.text import TextVocabulary, descriptor_columns
from ..analytics.timeline import weekly_story, weekly_summary
from ..roles import CHALLENGER, CHAMPION
from ..runs import RunManifest, RunStore
from ..tables import read_table as read_table_file
from .answers import ReadAnswers, read_answers, reread_reference_scores
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


def run_labels(manifest: RunManifest) -> pd.DataFrame | None:
    """The run's joined labels, or None when it has none with its target column (yet)."""
    labels = read_table(manifest.labels_path)
    target = manifest.target
    return None if target is None or labels is None or target not in labels.columns else labels


def run_answers(store: RunStore, manifest: RunManifest, labels: pd.DataFrame | None = None) -> ReadAnswers:
    """The run's answers re-read for its task (its results are read once: on a large run they
    are the most expensive file)."""
    stored = store.results(manifest.run_id)
    truth = labels[manifest.target] if labels is not None and manifest.target else None
    return read_answers(manifest.task, manifest.task_source, stored, paired(stored), truth)


@lru_cache(maxsize=4)
def _text_reference(path: str, mtime: float, columns: tuple[str, ...]) -> tuple[TextVocabulary, ReferenceProfile]:
    vocabulary, held_out = TextVocabulary.learn(read_table_file(path)[list(columns)], columns)
    described = vocabulary.describe(held_out)
    return vocabulary, ReferenceProfile.of(described, tuple(described.columns), ())


def text_reference(path: str, columns: tuple[str, ...]) -> tuple[TextVocabulary, ReferenceProfile]:
    """The reference's vocabulary and its text descriptors' profile, once per file."""
    return _text_reference(path, Path(path).stat().st_mtime, columns)


def reference_for(manifest: RunManifest) -> ReferenceProfile | None:
    """The run's training reference, prepared once per file (sorted columns, value counts)."""
    path = manifest.reference_path
    if not path or not Path(path).exists():
        return None
    return reference_profile(path, manifest.numeric, manifest.categorical)


def estimated_quality(manifest: RunManifest, read: ReadAnswers, requests: pd.DataFrame, labels: pd.DataFrame | None,
                      reference_scores: pd.DataFrame | None, scoring_error: str,
                      drifted: list[str]) -> EstimatedQuality | str:
    """Both models' quality estimated without labels, or why it cannot be on this run (in words)."""
    if manifest.split:
        return ("canary and A/B runs are not estimated: each request met one model, and the estimate compares "
                "the two on the same requests")
    reference = read_table(manifest.reference_path)
    target = manifest.target
    if reference is None:
        return ("it needs a training reference that holds the outcome: replay again with one (Training "
                "reference on the Replay page, --reference on the command line)")
    if not target:
        return ("the outcome's column is not known yet: name it with --label-column when replaying, or attach "
                "labels")
    if target not in reference:
        return f"the training reference {Path(str(manifest.reference_path)).name} has no column '{target}'"
    if reference_scores is None:
        return ("scoring the training reference failed: " + scoring_error) if scoring_error else \
            "the models' answers on the training reference were not recorded for this run"
    rows = reference_rows(reference, reference_scores)
    if rows is None:
        return "the models' answers on the training reference do not line up with its rows"
    return estimate_quality(read.pairs, requests, labels, target, read.task, rows, list(manifest.features), drifted,
                            read.space, read.pair_proba)


def compute_evidence(store: RunStore, run_id: str) -> RunEvidence:
    """Read the run, join its late labels and training reference, and run the analytics."""
    manifest = store.manifest(run_id)
    labels = run_labels(manifest)
    target = manifest.target
    read = run_answers(store, manifest, labels)
    task, results, pairs, space = read.task, read.results, read.pairs, read.space
    latency_views = {"latency_bins": latency_histogram(results), "latency_intervals": percentile_intervals(results),
                     "latency_timeline": latency_over_time(results), "latency_ratio": paired_latency_ratio(results),
                     "latency_ratios": percentile_ratios(results),
                     "errors": error_types(results),
                     "error_pairs": None if manifest.split else shared_errors(pairs),
                     "arm_windows": arm_windows(results) if manifest.mode == "ab" else None}
    requests = store.requests(run_id)
    latency_views["score_gaps"] = score_deltas(pairs)
    classes: dict = {}
    if task != "regression":
        latency_views["flips"] = flip_matrix(pairs)
    else:  # the two models' values against each other, and their residuals: nothing grows with distinct values
        latency_views["prediction_sample"] = prediction_sample(pairs, labels, target)
        latency_views["residuals"] = residual_histogram(pairs, labels, target)
    quality, labelled, right_share, paired_stats = None, 0, None, {}
    if labels is None or target is None:
        pass
    elif manifest.split:
        quality = own_requests_quality(results, labels, target, task, space, read.result_proba)
        labelled = int(quality["labelled"].sum())
        paired_stats.update(unpaired_difference_table(results, labels, target, task, space, read.result_proba))
    else:
        quality = quality_table(pairs, labels, target, task, space, read.pair_proba)
        labelled = int(quality["labelled"].iloc[0])
        labelled_rows = answered_by_both(pairs).reset_index().merge(labels[["request_id", target]].dropna(),
                                                                     on="request_id")
        right_share = challenger_right_share(labelled_rows, target, task)
        if task != "regression":
            paired_stats = paired_correctness(labelled_rows, target)
            classes = class_tables(labelled_rows, target, space)
        paired_stats.update(metric_difference_table(labelled_rows, target, task, space, read.pair_proba))
        paired_stats["segments"] = segment_table(labelled_rows.merge(requests, on="request_id"), target, task,
                                                 manifest.numeric, manifest.categorical)
    reference = reference_for(manifest)
    drift = None
    if reference is not None and not requests.empty:
        current, columns = requests, (manifest.numeric, manifest.categorical)
        if manifest.text:  # free text: judged through its descriptors, not as categories
            vocabulary, described = text_reference(str(manifest.reference_path), manifest.text)
            reference = ReferenceProfile({**reference.samples, **described.samples})
            current = requests.join(vocabulary.describe(requests))
            columns = (manifest.numeric + descriptor_columns(manifest.text), manifest.categorical)
        drift = feature_drift(reference, current, *columns)
        paired_stats["drift_timeline"] = drift_over_time(reference, current, *columns)
    reference_scores = reread_reference_scores(store.reference_scores(run_id), space)
    if reference_scores is not None:
        paired_stats["prediction_drift"] = prediction_drift(reference_scores, results)
        paired_stats["score_histograms"] = score_histograms(reference_scores, results)
    estimate = estimated_quality(manifest, read, requests, labels, reference_scores,
                                 store.reference_scores_error(run_id),
                                 drift.loc[drift["drifted"], "feature"].tolist() if drift is not None else [])
    paired_stats["estimated"] = None if isinstance(estimate, str) else estimate
    paired_stats["estimate_note"] = estimate if isinstance(estimate, str) else ""
    usage, usage_note = store.resources(run_id)
    return RunEvidence(manifest, task, agreement(pairs, task), quality, labelled, latency_table(results),
                       drift, dataset_drift(drift) if drift is not None else False,
                       with_outcomes(disagreements(pairs, requests, task), labels, target, task), right_share,
                       weekly_summary(pairs, requests, task, labels, target), replica_agreement(results, task),
                       **paired_stats, **latency_views, **classes, task_source=read.task_source,
                       classes=space.classes if space else (), positive_class=space.positive if space else None,
                       scores_note=read.why_no_probabilities,
                       weekly_story=weekly_story(pairs, requests, task, labels, target) if manifest.mode == "shadow"
                       else "", resources=usage if not usage.empty else None, resources_note=usage_note)


def class_tables(labelled_rows, target: str, space) -> dict:
    """The per-class table and each model's confusion matrix, on the labelled requests both answered."""
    truth = label_text(labelled_rows[target])
    predictions = {role: labelled_rows[f"{role}_prediction"].astype(str).to_numpy() for role in (CHAMPION, CHALLENGER)}
    return {"per_class": per_class_table(truth, predictions, space),
            "confusion": {role: confusion_matrix(truth, values, space) for role, values in predictions.items()}}
