"""The promotion gate, the reviewer's sign-off, and rollback, with an append-only audit log.

The gate turns a run's analysis into a verdict with its reasons. A promotion needs a
passed gate (or an explicit override with a reason), a named reviewer, a reason, and a
confirmation; the evidence must still describe the current aliases. Only then does the
`champion` alias move, and the decision is appended to the audit log under the sandbox
home and written as tags on the model version. Rollback moves the alias back to the
version the last promotion replaced, and is recorded the same way.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field

import pandas as pd

from .errors import PromotionError, RegistryError
from .evidence import RunEvidence
from .home import SandboxHome
from .refs import ModelRef
from .registry import Registry
from .roles import CHALLENGER, CHAMPION


@dataclass(frozen=True)
class GateRules:
    max_error_rate_increase: float = 0.01  # challenger error rate at most 1 point above the champion's
    max_p95_ratio: float = 1.5  # challenger p95 latency at most 1.5 x the champion's
    min_labelled: int = 200  # labelled requests needed to judge quality
    max_auc_drop: float = 0.01  # classification: ROC AUC may not fall by more than this
    max_mae_increase: float = 0.02  # regression: MAE may not rise by more than 2%


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateVerdict:
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if not c.passed]

    def as_dict(self) -> dict:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def evaluate_gate(analysis: RunEvidence, rules: GateRules = GateRules()) -> GateVerdict:
    checks = []
    status = analysis.manifest.status
    checks.append(GateCheck("run complete", status == "finished",
                            f"The run ended as '{status}'." + ("" if status == "finished" else
                                                              " Only a finished run can support a promotion.")))
    lat = analysis.latency
    champion, challenger = lat.loc[CHAMPION], lat.loc[CHALLENGER]
    increase = challenger["error_rate"] - champion["error_rate"]
    checks.append(GateCheck("errors", bool(increase <= rules.max_error_rate_increase),
                            f"Challenger error rate {challenger['error_rate']:.2%} against "
                            f"{champion['error_rate']:.2%} (allowed: +{rules.max_error_rate_increase:.0%})."))
    ratio = challenger["p95_ms"] / champion["p95_ms"] if champion["p95_ms"] else float("inf")
    jitter = analysis.replica_p95_ratio()
    allowed = max(rules.max_p95_ratio, jitter or 0.0)  # never stricter than the champion against itself
    floor = f"; the champion's own copy measured {jitter:.2f}x" if jitter is not None else ""
    checks.append(GateCheck("latency", bool(ratio <= allowed),
                            f"Challenger p95 {challenger['p95_ms']:.1f} ms is {ratio:.2f}x the champion's "
                            f"{champion['p95_ms']:.1f} ms (allowed: {allowed:.2f}x{floor})."))
    checks.append(_quality_check(analysis, rules))
    return GateVerdict(checks)


def _quality_check(analysis: RunEvidence, rules: GateRules) -> GateCheck:
    if analysis.quality is None or analysis.labelled < rules.min_labelled:
        return GateCheck("quality", False, f"Only {analysis.labelled:,} requests have a label; at least "
                                           f"{rules.min_labelled:,} are needed to judge quality.")
    q = analysis.quality
    if analysis.task == "regression":
        before, after = q.loc[CHAMPION, "mae"], q.loc[CHALLENGER, "mae"]
        ok = after <= before * (1 + rules.max_mae_increase)
        return GateCheck("quality", bool(ok), f"Challenger MAE {after:.3f} against {before:.3f} "
                                              f"(allowed: at most {rules.max_mae_increase:.0%} higher).")
    before, after = q.loc[CHAMPION, "roc_auc"], q.loc[CHALLENGER, "roc_auc"]
    if pd.isna(before) or pd.isna(after):
        before, after = q.loc[CHAMPION, "accuracy"], q.loc[CHALLENGER, "accuracy"]
        name = "accuracy"
    else:
        name = "ROC AUC"
    ok = after >= before - rules.max_auc_drop
    return GateCheck("quality", bool(ok), f"Challenger {name} {after:.3f} against {before:.3f} "
                                          f"(allowed: at most {rules.max_auc_drop:.2f} lower).")


class AuditLog:
    """Append-only JSON Lines file of promotions and rollbacks."""

    def __init__(self, home: SandboxHome) -> None:
        self.path = home.ensure().audit_log

    def append(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def records(self, model_name: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [r for r in rows if model_name is None or r.get("model") == model_name]


def _require_signoff(reviewer: str, reason: str, confirmed: bool) -> None:
    missing = [name for name, value in (("reviewer", reviewer.strip()), ("reason", reason.strip())) if not value]
    if missing:
        raise PromotionError(f"The sign-off is missing: {', '.join(missing)}.",
                             hint="Name the reviewer and give a reason; the audit record keeps both.")
    if not confirmed:
        raise PromotionError("The promotion was not confirmed.", hint="Tick the confirmation box to go ahead.")


def _record(action: str, model: str, from_version: str, to_version: str, reviewer: str, reason: str,
            **extra) -> dict:
    return {"id": uuid.uuid4().hex[:12], "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "action": action,
            "model": model, "from_version": from_version, "to_version": to_version,
            "reviewer": reviewer.strip(), "reason": reason.strip(), **extra}


def _move_and_record(registry: Registry, audit: AuditLog, model: str, version: str, previous: str,
                     record: dict) -> dict:
    registry.set_alias(model, CHAMPION, version)
    try:
        audit.append(record)
    except OSError as exc:
        registry.set_alias(model, CHAMPION, previous)
        raise PromotionError(f"The audit record could not be written ({exc}); the alias was put back.",
                             hint=f"Check that {audit.path} is writable.") from exc
    try:
        registry.tag_version(ModelRef(model, version), f"sandbox.{record['action']}.{record['id']}",
                             f"{record['reviewer']}: {record['reason']}"[:4000])
    except RegistryError as exc:  # the alias has moved and the record is written: say so, do not hide it
        return {**record, "tag_error": exc.message}
    return record


def promote(home: SandboxHome, analysis: RunEvidence, reviewer: str, reason: str, confirmed: bool,
            override: bool = False, rules: GateRules = GateRules()) -> dict:
    """Move `champion` to the run's challenger version; returns the audit record."""
    _require_signoff(reviewer, reason, confirmed)
    verdict = evaluate_gate(analysis, rules)
    if not verdict.passed and not override:
        raise PromotionError("The promotion gate did not pass: " + " ".join(verdict.reasons()),
                             hint="Fix the cause and replay again, or override with a stated reason.")
    registry = Registry(home)
    manifest = analysis.manifest
    champion, challenger = manifest.champion, manifest.challenger
    name = champion.name
    aliases = registry.aliases(name)
    if aliases.get(CHAMPION) != champion.version or aliases.get(CHALLENGER) != challenger.version:
        raise PromotionError(
            f"The aliases moved since this run: champion is now v{aliases.get(CHAMPION)}, challenger "
            f"v{aliases.get(CHALLENGER)}; the run compared v{champion.version} with v{challenger.version}.",
            hint="Replay again so the evidence matches the registry.")
    record = _record("promote", name, champion.version, challenger.version, reviewer,
                     reason, run_id=manifest.run_id, gate=verdict.as_dict(), override=override)
    return _move_and_record(registry, AuditLog(home), name, challenger.version, champion.version, record)


def last_promotion(home: SandboxHome, model_name: str) -> dict | None:
    """The latest promotion of this model that has not been rolled back."""
    records = AuditLog(home).records(model_name)
    undone = {r.get("undoes") for r in records if r["action"] == "rollback"}
    promotions = [r for r in records if r["action"] == "promote" and r["id"] not in undone]
    return promotions[-1] if promotions else None


def rollback(home: SandboxHome, model_name: str, reviewer: str, reason: str, confirmed: bool = True) -> dict:
    """Put `champion` back on the version the last promotion replaced."""
    _require_signoff(reviewer, reason, confirmed)
    promotion = last_promotion(home, model_name)
    if promotion is None:
        raise PromotionError(f"There is no promotion of '{model_name}' to roll back.",
                             hint="Rollback undoes the last promotion made in this sandbox.")
    registry = Registry(home)
    current = registry.aliases(model_name).get(CHAMPION)
    if current is None or current != promotion["to_version"]:
        raise PromotionError(f"The champion is v{current}, not v{promotion['to_version']} as the last promotion "
                             "left it; someone moved it since.", hint="Check the registry before rolling back.")
    registry.require_version(model_name, promotion["from_version"])
    record = _record("rollback", model_name, current, promotion["from_version"], reviewer, reason,
                     undoes=promotion["id"])
    return _move_and_record(registry, AuditLog(home), model_name, promotion["from_version"], current, record)
