"""The report as a reviewer reads it, top-down: one self-contained HTML page.

First the summary (the verdict in the same words as the app and the command line, the rule and
interval of each check that decided it, the labels that would decide a "not yet", the weekly
story), then the gate's checks in full sentences, then each section with its chart beside its
text, and last an appendix with the raw numbers behind every check, the run's settings and the
policy's text. Tables get readable headers and rounded numbers, and nothing prints as `None`.
Every value from outside the code is escaped.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..roles import CHALLENGER, CHAMPION

STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;
margin:.5rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.passed{color:#1a7f37}.failed{color:#cf222e}.warned{color:#9a6700}.not-yet{color:#8250df}.note{color:#555}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:.8rem}figure{margin:1rem 0}
.summary{border:2px solid #ddd;border-radius:6px;padding:.5rem 1rem}.checks td:nth-child(3){min-width:32rem}"""
# the same words as the verdict card, Promote, History and the command line
STATUS_WORDS = {"passed": "passed", "warned": "passed with warnings", "failed": "failed", "not yet": "not yet",
                "not evaluated": "not evaluated"}
UNITS = {"_ms": " (ms)", "_s": " (s)", "_mb": " (MB)", "_rps": " (requests/s)"}


@dataclass(frozen=True)
class Figure:
    """A chart drawn for the report: the section it sits in, its title, its inline SVG."""

    section: str
    title: str
    svg: str


def header(name: object) -> str:
    """A column name as words: p95_ms -> p95 (ms), rows_quarantined -> rows quarantined."""
    text = str(name)
    for suffix, unit in UNITS.items():
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
            break
    return text.replace("_", " ")


def cell(value: Any) -> Any:
    """A value as a reader sees it: no None or NaN (a dash), floats rounded, lists joined."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(cell(v)) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{header(k)}: {cell(v)}" for k, v in value.items()) or "—"
    return value


def table(rows: Any, columns: list[str] | None = None, css: str = "") -> str:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows or [])
    if frame.empty:
        return '<p class="note">Nothing to show.</p>'
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    frame = frame.astype(object).map(cell).rename(columns=header)
    text = frame.to_html(index=False, escape=True, border=0)
    return text.replace('<table class="dataframe">', f'<table class="dataframe {css}">') if css else text


def _status_class(status: str) -> str:
    return re.sub(r"[^a-z-]", "", status.replace(" ", "-"))


def _figures_of(figures: list[Figure], section: str) -> list[str]:
    e = html.escape
    return [f"<figure><figcaption>{e(f.title)}</figcaption>{f.svg}</figure>" for f in figures if f.section == section]


def _summary(document: dict[str, Any]) -> list[str]:
    e = html.escape
    gate = document["gate"]
    status = gate["status"]
    deciding = [c for c in gate["checks"] if c["name"] in set(gate.get("deciding", []))]  # GateVerdict.deciding_checks
    parts = ["<div class='summary'><h2>Summary</h2>",
             f"<p>The verdict: <b class='{_status_class(status)}'>{e(STATUS_WORDS.get(status, status))}</b> under "
             f"the policy <b>{e(document['policy']['name'])}</b>. {e(gate.get('headline', ''))}</p>"]
    if deciding:
        parts.append("<p>What decided it:</p><ul>" + "".join(
            f"<li><b>{e(c['name'])}</b>: {e(c['sentence'])}</li>" for c in deciding) + "</ul>")
    if gate.get("labels_needed"):
        parts.append(f"<p>About {gate['labels_needed']:,} labelled requests would decide it (this run has "
                     f"{gate.get('labelled', 0):,}).</p>")
    if document.get("weekly_story"):
        parts.append(f"<p>{e(document['weekly_story'])}</p>")
    return [*parts, "</div>"]


def _explanation(explanation: dict | None) -> list[str]:
    e = html.escape
    if not explanation or not explanation.get("features"):
        why = f" (the last one {explanation['status']}: {explanation.get('reason', '')})" if explanation else ""
        return [f'<p class="note">This run was not explained{e(why)}.</p>']
    parts = [f"<p>{e(explanation['headline'])}</p>",
             table([{"feature": f["feature"],
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
                  table(explanation["disagreements"])]
    per_row = ", ".join(f"{role} {value:.1f}" for role, value in (explanation.get("extra_requests_per_row") or {}).items())
    parts.append(f"<p class='note'>{e(explanation['sample'])} Background: {e(explanation['background'])}. Method: "
                 f"{e(explanation['method'])}. Extra requests per explained row: {e(per_row)}.</p>")
    return parts


def _capacity(capacity: dict | None) -> list[str]:
    e = html.escape
    if not capacity:
        return ['<p class="note">No capacity run measured these two versions.</p>']
    return [f"<p>{e(capacity['conclusion'])}</p>",
            table([{"model": role, "sustainable rate": m["text"], "repeats (req/s)": m["rates"],
                    "cold start (s)": m["cold_start_s"], "memory growth (MB)": m["memory_growth_mb"],
                    "spike errors": (m.get("spike") or {}).get("errors_during"),
                    "spike recovery (s)": (m.get("spike") or {}).get("recovery_s"),
                    "cost of 1,000": (capacity.get("cost_per_1k") or {}).get(role)}
                   for role, m in capacity["models"].items()]),
            f"<p class='note'>Capacity run {e(capacity['capacity_id'])} on {e(capacity['backend'])}, "
            f"{e(capacity['started_at'])}.</p>"]


def report_html(document: dict[str, Any], figures: list[Figure]) -> str:
    e = html.escape
    run, gate, policy, models = document["run"], document["gate"], document["policy"], document["models"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Staging sandbox report: "
             f"{e(run['model'])} run {e(run['run_id'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(run['model'])}: challenger v{e(models[CHALLENGER]['version'])} against champion "
             f"v{e(models[CHAMPION]['version'])}</h1>",
             f"<p class='note'>Run {e(run['run_id'])}, {e(run['mode'])} mode, ended as {e(run['status'])}; "
             f"{e(str(run.get('started_at') or '—'))} to {e(str(run.get('ended_at') or '—'))}.</p>",
             *_summary(document)]
    decision = document.get("decision")
    parts.append("<h2>Decision</h2>")
    parts.append(table([decision]) if decision else
                 '<p class="note">No decision yet: this report was written before a sign-off.</p>')
    parts += ["<h2>Gate checks</h2>",
              table([{"status": STATUS_WORDS.get(c["status"], c["status"]), "check": c["name"],
                      "what it says": c["sentence"]} for c in gate["checks"]], css="checks")]
    parts += ["<h2>Agreement and quality</h2>", f"<p>{e(document['task']['sentence'])}</p>",
              f"<p>{e(document['agreement']['sentence'])}</p>"]
    if document["task"]["trusted_code"]:
        parts.append(f"<p>Model code trusted by the user for this run: {e(', '.join(document['task']['trusted_code']))}"
                     ".</p>")
    if document.get("quality_sentence"):
        parts.append(f"<p>{e(document['quality_sentence'])}</p>")
    if document.get("weekly_story"):
        parts.append(f"<p>{e(document['weekly_story'])}</p>")
    parts += [table(document["quality"]), "<p>Challenger minus champion, with 95% intervals:</p>",
              table(document["quality_differences"])]
    if document.get("scores_note"):
        parts.append(f"<p>ROC AUC and log loss: {e(document['scores_note'])}.</p>")
    if document.get("per_class"):
        parts += ["<p>Per class:</p>", table(document["per_class"])]
    parts += _figures_of(figures, "quality")
    estimate = document.get("estimated_quality")
    parts.append("<h2>Quality estimated before the labels</h2>")
    if estimate:
        parts += [f"<p>{e(estimate['sentence'])}</p>",
                  "<p>Estimated and realised, per week (the band is the estimate on the labelled requests "
                  "± 3 sampling errors):</p>", table(estimate["by_week"]),
                  "<p>Whole run, every metric:</p>", table(estimate["whole_run"]),
                  "<p>Assumptions, checked on this run:</p>", table(estimate["assumptions"])]
    else:
        parts.append(f'<p class="note">No estimate: {e(document.get("estimate_note") or "none was made")}.</p>')
    split = document.get("split") or {}
    parts += ["<h2>Latency and errors</h2>", f"<p>{e(document['latency_sentence'])}</p>",
              *([f"<p>{e(split['sentence'])}</p>", table(split["steps"])] if split else []), table(document["latency"]),
              table(document["latency_ratios"]), *_figures_of(figures, "latency")]
    if document.get("errors"):
        parts += ["<p>Failed answers by kind, with the server's own message:</p>", table(document["errors"])]
    parts += ["<h2>Data drift</h2>", f"<p>{e(document['drift_sentence'])}</p>",
              table(document["drift"], ["feature", "type", "test", "score", "threshold", "drifted",
                                        "evidently_drifted", "why"]),
              *_figures_of(figures, "drift"), "<h3>Prediction drift</h3>", table(document["prediction_drift"])]
    parts += ["<h2>Segments</h2>", f"<p>{e(document['segment_sentence'] or 'No labels for segments.')}</p>",
              table(document["segments"])]
    parts += ["<h2>Capacity</h2>", *_capacity(gate.get("capacity")), *_figures_of(figures, "capacity")]
    parts += ["<h2>Why they differ</h2>", *_explanation(gate.get("explanation")), *_figures_of(figures, "explanation")]
    parts += ["<h2>Appendix</h2>", "<h3>Run</h3>",
              table([{"setting": k, "value": v} for k, v in {**run, **document["traffic"]}.items()]),
              "<h3>Models</h3>", table([{"role": role, **m} for role, m in models.items()])]
    for role, signature in (document.get("signatures") or {}).items():
        outputs = ", ".join(signature["outputs"]) or "not declared"
        parts += [f"<p><b>{e(role)}</b> signature, outputs {e(outputs)}:</p>", table(signature["inputs"])]
    parts += ["<h3>The numbers behind each check</h3>",
              f"<pre>{e(json.dumps({c['name']: c['numbers'] for c in gate['checks']}, indent=1, default=str))}</pre>",
              "<h3>Policy</h3>", f"<p>{e(policy['name'])}, from {e(policy['source'])}, SHA-256 "
              f"<code>{e(policy['sha256'])}</code></p>", f"<pre>{e(policy['text'])}</pre>", "</body></html>"]
    return "\n".join(parts)
