"""The evidence leaves the sandbox: one self-contained HTML report per run, and the same
content as JSON for machines.

The report holds the run's settings, the traffic file's name and SHA-256, both models' URIs,
versions and signatures, every gate check with its numbers, the policy's text, the agreement,
quality-difference, latency, drift and segment tables, charts, and the reviewer's decision once
there is one. It opens with no network: the charts are drawn as inline SVG when the report is
written (Vega-Lite rendered by vl-convert), there is no script, and every style is inline.
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

from ..capacity.result import CapacityResult
from ..evidence import RunEvidence
from ..files import atomic_write
from ..gate import GateVerdict
from ..jsonable import plain
from ..roles import CHALLENGER, CHAMPION
from ..serving.signatures import SignaturePair
from . import charts

STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;
margin:.5rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.passed{color:#1a7f37}.failed{color:#cf222e}.warned{color:#9a6700}.not-yet{color:#8250df}.note{color:#555}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:.8rem}figure{margin:1rem 0}"""


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
        "drift": evidence.drift, "dataset_drift": evidence.dataset_drift, "drift_sentence": evidence.drift_sentence(),
        "prediction_drift": evidence.prediction_drift, "segments": segments,
        "segment_sentence": evidence.segment_sentence(),
        "estimated_quality": evidence.estimated.as_dict() if evidence.estimated is not None else None,
        "decision": decision,
    })


def _table(rows: Any, columns: list[str] | None = None) -> str:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows or [])
    if frame.empty:
        return '<p class="note">None.</p>'
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    return frame.to_html(index=False, escape=True, na_rep="—", float_format=lambda v: f"{v:.4g}", border=0)


def _svg(chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_dict())


def _capacity_charts(capacity: dict | None) -> list[tuple[str, Callable[[], Any]]]:
    """The capacity run's hockey stick and spike, when the gate read one."""
    if not capacity:
        return []
    result = CapacityResult.from_dict(capacity)
    steps, spike = result.steps_frame(), result.spike_frame()
    sustainable = pd.DataFrame([{"model": role, "rate": m.rate} for role, m in result.models.items() if m.rate],
                               columns=["model", "rate"])
    wanted: list[tuple[str, Callable[[], Any]]] = []
    if not steps.empty:
        wanted.append(("Capacity: throughput against tail latency", lambda: charts.capacity_curve(
            steps, result.objective.latency_ms, result.objective.percentile, sustainable)))
    if not spike.empty:
        wanted.append(("Capacity: the spike, second by second", lambda: charts.spike_lines(spike)))
    return wanted


def _explanation_charts(explanation: dict | None) -> list[tuple[str, Callable[[], Any]]]:
    """Both models' global attributions and the first explained disagreement's, when the gate read them."""
    if not explanation or not explanation.get("features"):
        return []
    table = pd.DataFrame(explanation["features"])
    wanted: list[tuple[str, Callable[[], Any]]] = [
        (f"Why they differ: mean |attribution| of {explanation['output']}", lambda: charts.attribution_bars(table))]
    example = explanation.get("example")
    if example:
        row = pd.DataFrame(example["attributions"])
        wanted.append((f"Why they differ on request {example['request_id']}", lambda: charts.row_attribution_bars(row)))
    return wanted


def _figures(evidence: RunEvidence, capacity: dict | None = None,
             explanation: dict | None = None) -> list[tuple[str, str]]:
    """(title, inline SVG) for each chart the evidence (and the capacity run) can draw."""
    wanted: list[tuple[str, Callable[[], Any]]] = []
    if evidence.quality is not None:
        metrics = (["mae", "rmse"] if evidence.task == "regression" else
                   [m for m in ("accuracy", "precision", "recall", "f1", "f1_macro", "roc_auc")
                    if m in evidence.quality.columns])
        wanted.append(("Quality on the labelled requests", lambda: charts.metric_bars(evidence.quality, metrics)))
    for role, matrix in (evidence.confusion or {}).items():
        if len(matrix) <= 20:
            wanted.append((f"Confusion matrix, {role}", partial(charts.confusion_heatmap, matrix, role)))
    if evidence.prediction_sample is not None and not evidence.prediction_sample.empty:
        wanted.append(("Predictions, challenger against champion",
                       lambda: charts.prediction_scatter(evidence.prediction_sample)))
    if evidence.residuals is not None and not evidence.residuals.empty:
        wanted.append(("Residuals of each model", lambda: charts.residual_bars(evidence.residuals)))
    if evidence.latency_intervals is not None and not evidence.latency_intervals.empty:
        wanted.append(("Latency percentiles with 95% intervals", lambda: charts.interval_points(evidence.latency_intervals)))
    if evidence.latency_bins is not None and not evidence.latency_bins.empty:
        wanted.append(("Latency of successful answers", lambda: charts.latency_histogram(evidence.latency_bins)))
    if evidence.drift is not None and not evidence.drift.empty:
        wanted.append(("Data drift per feature", lambda: charts.drift_bars(evidence.drift)))
    wanted += _capacity_charts(capacity)
    wanted += _explanation_charts(explanation)
    figures = []
    for title, make in wanted:
        try:
            figures.append((title, _svg(make())))
        except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn is named, the report goes on
            reason = html.escape(type(exc).__name__)
            figures.append((title, f'<p class="note">This chart could not be drawn ({reason}).</p>'))
    return figures


def report_html(document: dict[str, Any], figures: list[tuple[str, str]]) -> str:
    e = html.escape
    run, gate, policy = document["run"], document["gate"], document["policy"]
    models = document["models"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Staging sandbox report: "
             f"{e(run['model'])} run {e(run['run_id'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(run['model'])}: challenger v{e(models[CHALLENGER]['version'])} against champion "
             f"v{e(models[CHAMPION]['version'])}</h1>",
             f"<p>Run <b>{e(run['run_id'])}</b>, {e(run['mode'])} mode, ended as <b>{e(run['status'])}</b>. "
             f"Gate: <b class='{e(gate['status'].replace(' ', '-'))}'>{e(gate['status'])}</b> under the policy "
             f"<b>{e(policy['name'])}</b> (SHA-256 <code>{e(policy['sha256'])}</code>).</p>",
             f"<p class='{e(gate['status'].replace(' ', '-'))}'><b>{e(gate.get('headline', ''))}</b></p>"]
    decision = document.get("decision")
    parts.append("<h2>Decision</h2>")
    if decision:
        parts.append(_table([decision]))
    else:
        parts.append('<p class="note">No decision yet: this report was written before a sign-off.</p>')
    parts += ["<h2>Gate checks</h2>",
              _table([{"check": c["name"], "status": c["status"], "what it says": c["sentence"],
                       "numbers": json.dumps(c["numbers"], sort_keys=True)} for c in gate["checks"]])]
    parts += ["<h2>Run</h2>", _table([{"setting": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else v}
                                      for k, v in {**run, **document["traffic"]}.items()])]
    parts += ["<h2>Models</h2>", _table([{"role": role, **m} for role, m in models.items()])]
    if document.get("signatures"):
        for role, signature in document["signatures"].items():
            outputs = ", ".join(signature["outputs"]) or "not declared"
            parts += [f"<p><b>{e(role)}</b> signature, outputs {e(outputs)}:</p>", _table(signature["inputs"])]
    parts += ["<h2>Agreement and quality</h2>", f"<p>{e(document['task']['sentence'])}</p>",
              f"<p>{e(document['agreement']['sentence'])}</p>"]
    if document["task"]["trusted_code"]:
        parts.append(f"<p>Model code trusted by the user for this run: {e(', '.join(document['task']['trusted_code']))}"
                     ".</p>")
    if document.get("quality_sentence"):
        parts.append(f"<p>{e(document['quality_sentence'])}</p>")
    parts += [_table(document["quality"]), "<p>Challenger minus champion, with 95% intervals:</p>",
              _table(document["quality_differences"])]
    if document.get("scores_note"):
        parts.append(f"<p>ROC AUC and log loss: {e(document['scores_note'])}.</p>")
    if document.get("per_class"):
        parts += ["<p>Per class:</p>", _table(document["per_class"])]
    estimate = document.get("estimated_quality")
    parts.append("<h2>Quality estimated before the labels</h2>")
    if estimate:
        parts += [f"<p>{e(estimate['sentence'])}</p>",
                  "<p>Estimated and realised, per week (the band is the estimate on the labelled requests "
                  "± 3 sampling errors):</p>", _table(estimate["by_week"]),
                  "<p>Whole run, every metric:</p>", _table(estimate["whole_run"]),
                  "<p>Assumptions, checked on this run:</p>", _table(estimate["assumptions"])]
    else:
        parts.append(f'<p class="note">No estimate: {e(document.get("estimate_note") or "none was made")}.</p>')
    parts += ["<h2>Latency and errors</h2>", f"<p>{e(document['latency_sentence'])}</p>", _table(document["latency"]),
              _table(document["latency_ratios"])]
    if document.get("errors"):
        parts += ["<p>Failed answers by kind, with the server's own message:</p>", _table(document["errors"])]
    parts += ["<h2>Data drift</h2>", f"<p>{e(document['drift_sentence'])}</p>",
              _table(document["drift"], ["feature", "type", "test", "score", "threshold", "drifted",
                                         "evidently_drifted", "why"]),
              "<h3>Prediction drift</h3>", _table(document["prediction_drift"])]
    parts += ["<h2>Segments</h2>", f"<p>{e(document['segment_sentence'] or 'No labels for segments.')}</p>",
              _table(document["segments"])]
    parts.append("<h2>Capacity</h2>")
    capacity = gate.get("capacity")
    if capacity:
        parts += [f"<p>{e(capacity['conclusion'])}</p>",
                  _table([{"model": role, "sustainable rate": m["text"], "repeats (req/s)": m["rates"],
                           "cold start (s)": m["cold_start_s"], "memory growth (MB)": m["memory_growth_mb"],
                           "spike errors": (m.get("spike") or {}).get("errors_during"),
                           "spike recovery (s)": (m.get("spike") or {}).get("recovery_s"),
                           "cost of 1,000": (capacity.get("cost_per_1k") or {}).get(role)}
                          for role, m in capacity["models"].items()]),
                  f"<p class='note'>Capacity run {e(capacity['capacity_id'])} on {e(capacity['backend'])}, "
                  f"{e(capacity['started_at'])}.</p>"]
    else:
        parts.append('<p class="note">No capacity run measured these two versions.</p>')
    parts += _explanation_section(gate.get("explanation"))
    parts.append("<h2>Charts</h2>")
    parts += [f"<figure><figcaption>{e(title)}</figcaption>{svg}</figure>" for title, svg in figures]
    parts += ["<h2>Policy</h2>", f"<p>{e(policy['name'])}, from {e(policy['source'])}</p>",
              f"<pre>{e(policy['text'])}</pre>", "</body></html>"]
    return "\n".join(parts)


def _explanation_section(explanation: dict | None) -> list[str]:
    e = html.escape
    parts = ["<h2>Why they differ</h2>"]
    if not explanation or not explanation.get("features"):
        why = f" (the last one {explanation['status']}: {explanation.get('reason', '')})" if explanation else ""
        return parts + [f'<p class="note">This run was not explained{e(why)}.</p>']
    parts += [f"<p>{e(explanation['headline'])}</p>",
              _table([{"feature": f["feature"],
                       "champion mean |attribution|": f"{f['champion_mean_abs']:.4f} ({f['champion_low']:.4f} to "
                                                      f"{f['champion_high']:.4f})",
                       "challenger mean |attribution|": f"{f['challenger_mean_abs']:.4f} ({f['challenger_low']:.4f} "
                                                        f"to {f['challenger_high']:.4f})",
                       "champion share": f"{f['champion_share']:.0%}", "challenger share": f"{f['challenger_share']:.0%}",
                       "share moved (95% CI)": f"{f['share_shift'] * 100:+.0f} points ({f['shift_low'] * 100:+.0f} to "
                                               f"{f['shift_high'] * 100:+.0f})",
                       "rank": f"{f['champion_rank']} → {f['challenger_rank']}"} for f in explanation["features"]])]
    if explanation.get("disagreements"):
        parts += ["<p>Disagreements, each model's strongest reasons (toward its answer first):</p>",
                  _table(explanation["disagreements"])]
    per_row = ", ".join(f"{role} {value:.1f}" for role, value in (explanation.get("extra_requests_per_row") or {}).items())
    parts.append(f"<p class='note'>{e(explanation['sample'])} Background: {e(explanation['background'])}. Method: "
                 f"{e(explanation['method'])}. Extra requests per explained row: {e(per_row)}.</p>")
    return parts


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
