"""The reviewer's sign-off, promotion and rollback, with an append-only audit log.

The gate (`staging.gate`) turns a run's evidence into a verdict under a policy. A promotion
needs a verdict with no failed check (or an explicit override with a reason), a named
reviewer, a reason, and a confirmation; the evidence must still describe the current
aliases. Only then does the `champion` alias move, and the decision, with the verdict and
the policy's text and SHA-256, is appended to the audit log under the sandbox home and
written as a tag on the model version. Rollback moves the alias back to the version the
last promotion replaced, and is recorded the same way.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from .errors import PromotionError, RegistryError
from .evidence import RunEvidence
from .gate import GateVerdict
from .home import SandboxHome
from .refs import ModelRef
from .registry import Registry
from .roles import CHALLENGER, CHAMPION


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


def promote(home: SandboxHome, verdict: GateVerdict, evidence: RunEvidence, reviewer: str, reason: str,
            confirmed: bool, override: bool = False) -> dict:
    """Move `champion` to the run's challenger version on a verdict of its gate; returns the
    audit record."""
    _require_signoff(reviewer, reason, confirmed)
    if verdict.run_id != evidence.manifest.run_id:
        raise PromotionError("The gate's verdict is for another run than the evidence.",
                             hint="Evaluate the gate on this run and try again.")
    if not verdict.passed and not override:
        raise PromotionError("The promotion gate did not pass: " + " ".join(verdict.reasons()),
                             hint="Fix the cause and replay again, or override with a stated reason.")
    registry = Registry(home)
    manifest = evidence.manifest
    champion, challenger = manifest.champion, manifest.challenger
    name = champion.name
    aliases = registry.aliases(name)
    if aliases.get(CHAMPION) != champion.version or aliases.get(CHALLENGER) != challenger.version:
        raise PromotionError(
            f"The aliases moved since this run: champion is now v{aliases.get(CHAMPION)}, challenger "
            f"v{aliases.get(CHALLENGER)}; the run compared v{champion.version} with v{challenger.version}.",
            hint="Replay again so the evidence matches the registry.")
    record = _record("promote", name, champion.version, challenger.version, reviewer,
                     reason, run_id=manifest.run_id, gate=verdict.as_dict(), policy=verdict.policy.as_record(),
                     override=override)
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
