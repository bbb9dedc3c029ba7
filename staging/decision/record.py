"""One promotion, rollback or gated verdict as a frozen value: `AuditRecord`, the line the audit chain seals.

The chain hashes a record's JSON exactly as written, so `to_json` writes the fields a record of
its action carries (a promotion: run, verdict, policy, override, report; a rollback: the record
it undoes) and `from_json` reads any line the chain ever held: records from before the typed
record (schema 1, no `schema` key) read back with the same values and still verify, because
verification reads the raw lines. Two fields are not sealed: where the registry keeps the
decision's report, and why it could not, which are known only after the record is written.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

SCHEMA_VERSION = 2  # 1: the records written as plain dicts, before this value (no "schema" key)
UNSEALED = ("report_uri", "report_error")
PROMOTE, ROLLBACK, GATED = "promote", "rollback", "gated"  # gated: judged by the watcher, nothing moved


def new_record_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class AuditRecord:
    id: str
    at: str
    action: str  # promote, rollback, or gated (a verdict the watcher reached; no alias moved)
    model: str
    from_version: str
    to_version: str
    reviewer: str
    reason: str
    run_id: str = ""  # promote: the run whose evidence the decision rests on
    gate: Mapping[str, Any] = field(default_factory=dict)  # promote: the verdict as `GateVerdict.as_dict`
    policy: Mapping[str, Any] = field(default_factory=dict)  # promote: name, text and SHA-256
    override: bool = False
    report: Mapping[str, str] = field(default_factory=dict)  # promote: the decision report's paths and SHA-256s
    undoes: str = ""  # rollback: the promotion it undoes
    tag_error: str = ""  # the registry refused the version tags after the alias moved
    prev_hash: str = ""
    hash: str = ""
    schema: int = SCHEMA_VERSION
    report_uri: str = ""  # unsealed: the decision report as an artifact of the challenger's version
    report_error: str = ""  # unsealed: why it could not be logged there (the promotion stands)

    @classmethod
    def new(cls, action: str, model: str, from_version: str, to_version: str, reviewer: str, reason: str,
            record_id: str | None = None, **extra: Any) -> AuditRecord:
        return cls(id=record_id or new_record_id(), at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), action=action,
                   model=model, from_version=str(from_version), to_version=str(to_version),
                   reviewer=reviewer.strip(), reason=reason.strip(), **extra)

    @property
    def gate_status(self) -> str:
        """The gate's verdict at a promotion (passed, warned, failed), or "—" for a rollback."""
        return str(self.gate.get("status", "—")) if self.action in (PROMOTE, GATED) else "—"

    @property
    def policy_name(self) -> str:
        return str(self.policy.get("name", ""))

    @property
    def policy_sha256(self) -> str:
        return str(self.policy.get("sha256", ""))

    @property
    def report_html(self) -> str:
        return str(self.report.get("html", ""))

    def replace(self, **changes: Any) -> AuditRecord:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The sealed fields as the chain writes them: the common ones, then those of its action."""
        data: dict[str, Any] = {"id": self.id, "at": self.at, "action": self.action, "model": self.model,
                                "from_version": self.from_version, "to_version": self.to_version,
                                "reviewer": self.reviewer, "reason": self.reason}
        if self.action in (PROMOTE, GATED):
            data.update(run_id=self.run_id, gate=dict(self.gate), policy=dict(self.policy), override=self.override,
                        report=dict(self.report))
        if self.undoes:
            data["undoes"] = self.undoes
        if self.tag_error:
            data["tag_error"] = self.tag_error
        if self.schema != 1:
            data["schema"] = self.schema
        if self.prev_hash:
            data["prev_hash"] = self.prev_hash
        if self.hash:
            data["hash"] = self.hash
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """A record from any line the chain holds (a missing field takes its empty value)."""
        known = {f.name for f in fields(cls)} - set(UNSEALED)
        values = {k: v for k, v in data.items() if k in known}
        for name in ("id", "at", "action", "model", "from_version", "to_version", "reviewer", "reason"):
            values[name] = "" if data.get(name) is None else str(data.get(name))
        values["override"] = bool(data.get("override", False))
        values["schema"] = int(data.get("schema", 1))
        for name in ("gate", "policy", "report"):
            values[name] = dict(data.get(name) or {})
        return cls(**values)
