"""What the command line prints: typed results as JSON for a pipeline, or as lines for a person."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..decision.audit import Verification
from ..decision.history import ChampionPeriod
from ..decision.record import AuditRecord
from ..explain.result import Explanation


def as_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent)


def record_json(status: str, record: AuditRecord) -> dict[str, Any]:
    """A promotion or rollback for `--json`: the sealed record, plus where its report went."""
    extra = {k: v for k, v in (("report_uri", record.report_uri), ("report_error", record.report_error)) if v}
    return {"status": status, **record.to_json(), **extra}


def record_text(status: str, record: AuditRecord) -> str:
    warnings = " ".join(w for w in (record.tag_error, record.report_error) if w)
    return (f"{status}: {record.model}@champion v{record.from_version} -> v{record.to_version} "
            f"(record {record.id}, hash {record.hash[:12]})" + (f"; but: {warnings}" if warnings else ""))


def verification_text(verification: Verification) -> str:
    if verification.ok:
        return verification.sentence()
    return "\n".join(["The audit log does not verify:", *(f"  {p}" for p in verification.problems)])


def history_json(model: str, periods: list[ChampionPeriod], mismatch: str | None,
                 verification: Verification) -> dict[str, Any]:
    return {"model": model, "periods": [p.__dict__ for p in periods], "registry_disagrees": mismatch,
            "chain": verification.as_dict()}


def history_text(model: str, periods: list[ChampionPeriod], mismatch: str | None, verification: Verification) -> str:
    lines = [f"Champion of {model} over time (newest last); chain: {verification.sentence()}"]
    for p in periods:
        lines.append(f"  v{p.version}: from {p.since or 'before the records'} until {p.until or 'now'}"
                     f" ({p.action}{', ' + p.reviewer if p.reviewer else ''}{': ' + p.reason if p.reason else ''}; "
                     f"gate {p.verdict or '—'}{'; overridden' if p.override else ''})")
    if mismatch:
        lines.append(f"  note: {mismatch}")
    return "\n".join(lines)


def gate_text(summary: Mapping[str, Any]) -> str:
    """The verdict for a person at a terminal: one line per check."""
    lines = [f"Gate for run {summary['run_id']} of {summary['model']}: {summary['status'].upper()} "
             f"(policy '{summary['policy']['name']}', sha256 {summary['policy']['sha256'][:12]})",
             f"  {summary['headline']}"]
    lines += [f"  {check['status']:<13} {check['name']}: {check['sentence']}" for check in summary["checks"]]
    return "\n".join(lines)


def capacity_text(result: Mapping[str, Any]) -> str:
    """A capacity run for a person: the conclusion, then each model's figures."""
    lines = [f"Capacity run {result['capacity_id']} of {result['model_name']} on {result['backend']} "
             f"({result['duration_s']:.0f} s)", f"  {result['conclusion']}"]
    ceiling = (result.get("ceiling") or {}).get("rate")
    if ceiling:
        lines.append(f"  the harness's own ceiling on this machine: {ceiling:,.0f} req/s")
    for role, model in result["models"].items():
        rates = ", ".join("none" if r is None else f"{r:,.0f}" for r in model["rates"])
        cold = ", ".join(f"{c:.1f}" for c in model["cold_start_s"]) or "–"
        parts = [f"  {role} v{model['version']}: {model['text']} (repeats: {rates} req/s)", f"cold start {cold} s"]
        if model.get("memory_growth_mb") is not None:
            parts.append(f"memory growth {model['memory_growth_mb']:+.0f} MB")
        if model.get("image_mb") is not None:
            parts.append(f"image {model['image_mb']:,.0f} MB")
        spike = model.get("spike")
        if spike:
            recovery = "not within the run" if spike["recovery_s"] is None else f"{spike['recovery_s']:.0f} s"
            parts.append(f"spike {spike['base_rate']:g}→{spike['peak_rate']:g} req/s: {spike['errors_during']:,} "
                         f"errors of {spike['sent_during']:,}, worst p99 {spike['worst_p99_ms']:,.0f} ms, "
                         f"back to the base p99 in {recovery}")
        lines.append(" · ".join(parts))
    return "\n".join(lines)


def explanation_text(data: Mapping[str, Any], explanation: Explanation) -> str:
    """An explanation for a person: the headline, the biggest moves, a few disagreements in words."""
    lines = [f"Explanation of run {data['run_id']}: {data['status']}" + (f" ({data['reason']})" if data['reason'] else "")]
    if data.get("headline"):
        lines.append(f"  {data['headline']}")
        comparison = explanation.comparison(0)
        shifts = comparison.biggest_shifts(3) if comparison is not None else pd.DataFrame()
        for _, row in shifts.iterrows():
            lines.append(f"  {row['feature']}: {row['champion_share']:.0%} of the champion's explanation, "
                         f"{row['challenger_share']:.0%} of the challenger's ({row['share_shift'] * 100:+.0f} points, "
                         f"95% CI {row['shift_low'] * 100:+.0f} to {row['shift_high'] * 100:+.0f})")
        for example in data.get("disagreements", [])[:3]:
            lines.append(f"  request {example['request_id']}: {example['why']}")
    per_row = data.get("extra_requests_per_row") or {}
    if data.get("rows_explained"):
        lines.append(f"  {data['rows_explained']:,} rows in {data['seconds']:.0f} s; extra requests per row: "
                     + ", ".join(f"{role} {value:.1f}" for role, value in per_row.items())
                     + f"; {data['background']}")
        lines.append(f"  method: {data['method']}")
    return "\n".join(lines)


def progress_bar(progress, width: int = 30) -> str:
    done = int(width * progress.fraction)
    return (f"[{'#' * done}{'.' * (width - done)}] {progress.fraction:4.0%} {progress.completed:,}/{progress.total:,} "
            f"requests · {progress.throughput:,.0f} answers/s · {progress.errors:,} errors")
