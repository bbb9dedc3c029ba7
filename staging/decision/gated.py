"""A verdict reached without a person: the watcher's comparison, recorded and tagged, never promoted.

`record_gated` seals an audit record of action `gated` (the run, the verdict as
`GateVerdict.as_dict`, the policy, the report's SHA-256s; from the champion's version to the
challenger's) into the chain under its lock, and anchors it on the challenger's version like a
promotion's record, so `verify` treats it the same. No alias moves. `tag_verdict` writes what a
training pipeline reads off the version: `sandbox.verdict` (passed, warned, failed, not yet or
error), `sandbox.verdict.reason` (the headline, or why it could not be judged), `sandbox.run` and
`sandbox.report`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import RegistryError
from ..evidence import RunEvidence
from ..gate import GateVerdict
from ..home import SandboxHome
from ..refs import ModelRef
from ..registry.client import Registry
from .audit import ANCHOR_PREFIX, AuditChain
from .record import GATED, AuditRecord

VERDICT_TAG, REASON_TAG, RUN_TAG, REPORT_TAG = "sandbox.verdict", "sandbox.verdict.reason", "sandbox.run", "sandbox.report"
ERROR_VERDICT = "error"
TAG_LIMIT = 4000  # MLflow keeps a version tag's value up to 5,000 characters


def record_gated(home: SandboxHome, registry: Registry, verdict: GateVerdict, evidence: RunEvidence, by: str,
                 reason: str, report: Mapping[str, str] | None = None) -> AuditRecord:
    """The verdict sealed into the audit chain as a `gated` record, anchored on the challenger."""
    manifest = evidence.manifest
    record = AuditRecord.new(GATED, manifest.model_name, manifest.champion.version, manifest.challenger.version,
                             by, reason, run_id=manifest.run_id, gate=verdict.as_dict(),
                             policy=verdict.policy.as_record(), report=dict(report or {}))
    chain = AuditChain(home)
    with chain.locked():
        sealed = chain.seal(record)
        try:
            registry.tag_version(ModelRef(record.model, record.to_version), f"{ANCHOR_PREFIX}{record.id}", sealed.hash)
        except RegistryError as exc:
            sealed = chain.seal(record.replace(tag_error=exc.message))
        chain.append(sealed)
    return sealed


def tag_verdict(registry: Registry, ref: ModelRef, status: str, reason: str, run_id: str = "",
                report: str = "") -> None:
    """The verdict on the version itself, where a training pipeline polls for it. The verdict is
    written last, so whoever sees it finds the run, the report and the reason beside it."""
    tags = {RUN_TAG: run_id, REPORT_TAG: report[:TAG_LIMIT], REASON_TAG: reason[:TAG_LIMIT], VERDICT_TAG: status}
    for key, value in tags.items():
        if value or key in (VERDICT_TAG, REASON_TAG):
            registry.tag_version(ref, key, value)
