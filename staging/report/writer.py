"""The evidence leaves the sandbox: one self-contained HTML report per run, and the same
content as JSON for machines.

The document (`evidence_document`) holds the run's settings, the traffic file's name and SHA-256,
both models' URIs, versions and signatures, every gate check with its numbers, the policy's text,
the agreement, quality-difference, latency, drift and segment tables, and the reviewer's decision
once there is one; `html` lays it out for a reader, summary first. It opens with no network:
the charts are drawn as inline SVG when the report is written (Vega-Lite rendered by
vl-convert), there is no script, and every style is inline.
Everything in it is aggregated, as the pages are, so a million-request run stays small.
User text (reviewer, reason, names, values) is escaped: it is shown, never interpreted.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ..analytics.arms import split_sentence
from ..capacity.result import CapacityResult
from ..evidence import RunEvidence
from ..files import atomic_write
from ..gate import GateVerdict
from ..jsonable import plain
from ..roles import CHALLENGER, CHAMPION
from ..serving.signatures import SignaturePair
from . import charts
from .html import Figure, report_html


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path

    @property
    def html_sha256(self) -> str:
        return hashlib.sha256(self.html.read_bytes()).hexdigest()

    @property
    def json_sha256(self) -> str:
        return hashlib.sha256(self.json.read_bytes()).hexdigest()

    def as_record(self) -> dict[str, str]:
        return {"html": str(self.html), "html_sha256": self.html_sha256, "json": str(self.json),
                "json_sha256": self.json_sha256}


def _iso(seconds: float | None) -> str | None:
    return None if not seconds else pd.Timestamp(seconds, unit="s", tz="UTC").isoformat(timespec="seconds")


def evidence_document(evidence: RunEvidence, verdict: GateVerdict, signatures: SignaturePair | None,
                      decision: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready values (the evidence file is exactly this)."""
    manifest = evidence.manifest
    segments = evidence.segments.head(20) if evidence.segments is not None else None
    return plain({
        "run": {"run_id": manifest.run_id, "model": manifest.model_name, "status": manifest.status,
                "end_reason": manifest.end_reason, "started_at": _iso(manifest.started_at),
                "ended_at": _iso(manifest.ended_at),
                "backend": manifest.backend, "code_version": manifest.code_version, "mode": manifest.mode,
                "settings": manifest.settings.as_dict(), "selection": manifest.selection.__dict__},
        "traffic": {"file": manifest.traffic.name, "sha256": manifest.traffic.sha256,
                    "rows_read": manifest.traffic.rows_read, "rows_valid": manifest.traffic.rows_valid,
                    "rows_quarantined": manifest.traffic.rows_quarantined, "replayed": manifest.traffic.replayed,
                    "validation": manifest.traffic.validation},
        "models": {role: {"uri": m.uri, "version": m.version, "name": m.name} for role, m in manifest.models.items()},
        "signatures": None if signatures is None else {
            CHAMPION: {"inputs": [s.__dict__ for s in signatures.champion_inputs],
                       "outputs": list(signatures.champion_outputs)},
            CHALLENGER: {"inputs": [s.__dict__ for s in signatures.challenger_inputs],
                         "outputs": list(signatures.challenger_outputs)}},
        "gate": verdict.as_dict(), "policy": verdict.policy.as_record(),
        "agreement": {"sentence": evidence.agreement_sentence(), "labelled": evidence.labelled,
                      "rate": evidence.agreement.rate if evidence.agreement else None},
        "task": {"task": evidence.task, "source": evidence.task_source, "sentence": evidence.task_sentence(),
                 "classes": list(evidence.classes), "positive_class": evidence.positive_class,
                 "trusted_code": list(manifest.trusted_code)},
        "quality": evidence.quality, "quality_differences": evidence.differences,
        "quality_sentence": evidence.quality_sentence(), "scores_note": evidence.scores_note,
        "per_class": evidence.per_class,
        "confusion": {role: {"classes": list(m.index), "counts": m.to_numpy().tolist()}
                      for role, m in (evidence.confusion or {}).items()},
        "errors": evidence.errors, "error_pairs": evidence.error_pairs, "estimate_note": evidence.estimate_note,
        "latency": evidence.latency, "latency_ratios": evidence.latency_ratios,
        "latency_sentence": evidence.latency_sentence(),
        "split": _split(evidence),
        "drift": evidence.drift, "dataset_drift": evidence.dataset_drift, "drift_sentence": evidence.drift_sentence(),
        "prediction_drift": evidence.prediction_drift, "segments": segments,
        "segment_sentence": evidence.segment_sentence(),
        "estimated_quality": evidence.estimated.as_dict() if evidence.estimated is not None else None,
        "weekly": evidence.weekly, "weekly_story": evidence.weekly_story,
        "decision": decision,
    })


def canary_table(manifest) -> pd.DataFrame:
    """A canary's steps, one row each (empty for other runs)."""
    return pd.DataFrame([dict(step) for step in manifest.summary.canary])


def _split(evidence: RunEvidence) -> dict[str, Any] | None:
    """A canary's steps or an A/B run's arms over time, with their sentence (None for shadow)."""
    manifest = evidence.manifest
    if manifest.mode == "canary":
        return {"sentence": manifest.end_reason or "The canary went through all its steps; every gate passed.",
                "steps": canary_table(manifest)}
    if manifest.mode == "ab" and evidence.arm_windows is not None:
        return {"sentence": split_sentence(evidence.arm_windows, manifest.settings.challenger_share),
                "steps": evidence.arm_windows}
    return None


def _svg(chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_dict())


Wanted = list[tuple[str, str, Callable[[], Any]]]  # (section, title, how to draw it)


def _capacity_charts(capacity: dict | None) -> Wanted:
    """The capacity run's hockey stick and spike, when the gate read one."""
    if not capacity:
        return []
    result = CapacityResult.from_dict(capacity)
    steps, spike = result.steps_frame(), result.spike_frame()
    sustainable = pd.DataFrame([{"model": role, "rate": m.rate} for role, m in result.models.items() if m.rate],
                               columns=["model", "rate"])
    wanted: Wanted = []
    if not steps.empty:
        wanted.append(("capacity", "Throughput against tail latency", lambda: charts.capacity_curve(
            steps, result.objective.latency_ms, result.objective.percentile, sustainable)))
    if not spike.empty:
        wanted.append(("capacity", "The spike, second by second", lambda: charts.spike_lines(spike)))
    return wanted


def _explanation_charts(explanation: dict | None) -> Wanted:
    """Both models' global attributions and the first explained disagreement's, when the gate read them."""
    if not explanation or not explanation.get("features"):
        return []
    table = pd.DataFrame(explanation["features"])
    wanted: Wanted = [
        ("explanation", f"Mean |attribution| of {explanation['output']}", lambda: charts.attribution_bars(table))]
    example = explanation.get("example")
    if example:
        row = pd.DataFrame(example["attributions"])
        wanted.append(("explanation", f"Why they differ on request {example['request_id']}",
                       lambda: charts.row_attribution_bars(row)))
    return wanted


def report_charts(evidence: RunEvidence, capacity: dict | None = None, explanation: dict | None = None) -> Wanted:
    """Each chart the evidence (and the capacity run, the explanation) can draw: (section, title,
    how to draw it)."""
    wanted: Wanted = []
    if evidence.quality is not None:
        metrics = (["mae", "rmse"] if evidence.task == "regression" else
                   [m for m in ("accuracy", "precision", "recall", "f1", "f1_macro", "roc_auc")
                    if m in evidence.quality.columns])
        wanted.append(("quality", "Quality on the labelled requests",
                       lambda: charts.metric_bars(evidence.quality, metrics)))
    metric = "mae" if evidence.task == "regression" else "accuracy"
    weekly = [c for c in evidence.weekly.columns if c.endswith(metric)] if len(evidence.weekly) > 1 else []
    if weekly:
        wanted.append(("quality", f"Each model's {metric} and their agreement, week by week",
                       lambda: charts.weekly_lines(evidence.weekly, [*weekly, "agreement"],
                                                   f"{metric} and agreement")))
    for role, matrix in (evidence.confusion or {}).items():
        if len(matrix) <= 20:
            wanted.append(("quality", f"Confusion matrix, {role}", partial(charts.confusion_heatmap, matrix, role)))
    if evidence.prediction_sample is not None and not evidence.prediction_sample.empty:
        wanted.append(("quality", "Predictions, challenger against champion",
                       lambda: charts.prediction_scatter(evidence.prediction_sample)))
    if evidence.residuals is not None and not evidence.residuals.empty:
        wanted.append(("quality", "Residuals of each model", lambda: charts.residual_bars(evidence.residuals)))
    if evidence.latency_intervals is not None and not evidence.latency_intervals.empty:
        wanted.append(("latency", "Latency percentiles with 95% intervals",
                       lambda: charts.interval_points(evidence.latency_intervals)))
    if evidence.latency_bins is not None and not evidence.latency_bins.empty:
        wanted.append(("latency", "Latency of successful answers", lambda: charts.latency_histogram(evidence.latency_bins)))
    steps = canary_table(evidence.manifest)
    if "p95_ratio" in steps.columns:
        wanted.append(("latency", "The canary's steps: p95 ratio with its 95% interval",
                       lambda: charts.canary_timeline(steps, evidence.manifest.settings.canary_max_p95_ratio)))
    if evidence.arm_windows is not None and not evidence.arm_windows.empty:
        wanted.append(("latency", "The A/B arms window by window, each on its own requests",
                       lambda: charts.arm_timeline(evidence.arm_windows)))
    if evidence.resources is not None and not evidence.resources.empty:
        wanted.append(("latency", "Each server's CPU and memory over the replay",
                       lambda: charts.resource_lines(evidence.resources)))
    if evidence.drift is not None and not evidence.drift.empty:
        wanted.append(("drift", "Data drift per feature", lambda: charts.drift_bars(evidence.drift)))
    return wanted + _capacity_charts(capacity) + _explanation_charts(explanation)


def _figures(evidence: RunEvidence, capacity: dict | None = None,
             explanation: dict | None = None) -> list[Figure]:
    """Each chart as inline SVG, with the section of the report it belongs to."""
    figures = []
    for section, title, make in report_charts(evidence, capacity, explanation):
        try:
            figures.append(Figure(section, title, _svg(make())))
        except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn is named, the report goes on
            reason = html.escape(type(exc).__name__)
            figures.append(Figure(section, title, f'<p class="note">This chart could not be drawn ({reason}).</p>'))
    return figures


def write_report(folder: Path, stem: str, evidence: RunEvidence, verdict: GateVerdict,
                 signatures: SignaturePair | None, decision: dict[str, Any] | None = None) -> ReportFiles:
    """`folder/stem.html` and `folder/stem.json`, each written beside and renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    document = evidence_document(evidence, verdict, signatures, decision)
    files = ReportFiles(folder / f"{stem}.html", folder / f"{stem}.json")
    for path, text in ((files.html, report_html(document, _figures(evidence, verdict.capacity, verdict.explanation))),
                       (files.json, json.dumps(document, indent=1, sort_keys=True))):
        atomic_write(path, text)
    return files
