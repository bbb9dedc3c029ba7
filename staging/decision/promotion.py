"""The reviewer's sign-off, promotion and rollback, with an append-only audit log.

The gate (`staging.gate`) turns a run's evidence into a verdict under a policy. A promotion
needs a verdict with no failed check (or an explicit override with a reason), a named
reviewer, a reason, and a confirmation. It then runs under the audit chain's lock: the chain
must verify (in the file and against the registry's anchors), and the evidence must still
describe the current aliases, or the promotion is refused (a conflict names the record that
won). Only then does the `champion` alias move; the version is tagged with the decision and
the record's hash (its anchor), and the record, with the verdict, the policy's text and
SHA-256 and the report's SHA-256, is sealed into the chain (`staging.decision.audit`). If the tags
cannot be written after the alias moved, the record says so. Rollback moves the alias back to
the version the last promotion replaced, and is recorded the same way.

In team mode the registry handed in writes as the reviewer (`staging.registry.team`): when MLflow refuses
the alias move, the exception leaves before the record is appended, so nothing moves and
nothing is recorded.
"""

from __future__ import annotations

from ..errors import PromotionError, RegistryError
from ..evidence import RunEvidence
from ..gate import NOT_YET, GateVerdict
from ..home import SandboxHome
from ..refs import ModelRef
from ..registry.client import Registry
from ..roles import CHALLENGER, CHAMPION
from .audit import ANCHOR_PREFIX, AuditChain
from .record import PROMOTE, ROLLBACK, AuditRecord


def require_signoff(reviewer: str, reason: str, confirmed: bool) -> None:
    missing = [name for name, value in (("reviewer", reviewer.strip()), ("reason", reason.strip())) if not value]
    if missing:
        raise PromotionError(f"The sign-off is missing: {', '.join(missing)}.",
                             hint="Name the reviewer and give a reason; the audit record keeps both.")
    if not confirmed:
        raise PromotionError("The promotion was not confirmed.", hint="Tick the confirmation box to go ahead.")


def _verified(chain: AuditChain, registry: Registry) -> None:
    verification = chain.verify(registry.audit_anchors)
    if not verification.ok:
        raise PromotionError(verification.sentence(),
                             hint="Nothing was moved. Restore the audit log from a backup, or have the change "
                                  "explained, before promoting or rolling back again (python -m staging audit verify).")


def _move_and_record(registry: Registry, chain: AuditChain, record: AuditRecord) -> AuditRecord:
    """Move the alias to the record's `to_version`, tag that version (decision and anchor) and seal
    the record into the chain. Called under the chain's lock."""
    sealed = chain.seal(record)
    registry.set_alias(record.model, CHAMPION, record.to_version)
    ref = ModelRef(record.model, record.to_version)
    try:
        registry.tag_version(ref, f"sandbox.{record.action}.{record.id}", f"{record.reviewer}: {record.reason}"[:4000])
        registry.tag_version(ref, f"{ANCHOR_PREFIX}{record.id}", sealed.hash)
    except RegistryError as exc:  # the alias has moved: the record says the tags failed, never hides it
        sealed = chain.seal(record.replace(tag_error=exc.message))
    try:
        chain.append(sealed)
    except OSError as exc:
        registry.set_alias(record.model, CHAMPION, record.from_version)
        raise PromotionError(f"The audit record could not be written ({exc}); the alias was put back to "
                             f"v{record.from_version}.", hint=f"Check that {chain.path} is writable.") from exc
    return sealed


def _winner(chain: AuditChain, model: str, version: str | None) -> str:
    moved = [r for r in chain.records(model) if r.to_version == version and r.action in (PROMOTE, ROLLBACK)]
    if not moved:
        return "it was moved outside the sandbox"
    last = moved[-1]
    return f"record {last.id}, a {last.action} by {last.reviewer} at {last.at}, moved it"


def promote(home: SandboxHome, verdict: GateVerdict, evidence: RunEvidence, reviewer: str, reason: str,
            confirmed: bool, override: bool = False, record_id: str | None = None,
            report: dict[str, str] | None = None, registry: Registry | None = None) -> AuditRecord:
    """Move `champion` to the run's challenger version on a verdict of its gate; returns the
    sealed audit record. `registry`: the reviewer's (team mode), else the app's."""
    require_signoff(reviewer, reason, confirmed)
    if verdict.run_id != evidence.manifest.run_id:
        raise PromotionError("The gate's verdict is for another run than the evidence.",
                             hint="Evaluate the gate on this run and try again.")
    if not verdict.passed and not override:
        if verdict.status == NOT_YET:
            raise PromotionError(verdict.headline(), hint="Attach more labels (or replay more traffic) and judge "
                                                          "again, or override with a stated reason.")
        raise PromotionError("The promotion gate did not pass: " + " ".join(verdict.reasons()),
                             hint="Fix the cause and replay again, or override with a stated reason.")
    registry = registry or Registry(home)
    chain = AuditChain(home)
    manifest = evidence.manifest
    champion, challenger = manifest.champion, manifest.challenger
    name = champion.name
    for entry in (champion, challenger):  # a version deleted since the run: say so, not "the aliases moved"
        try:
            registry.require_version(name, entry.version)
        except RegistryError as exc:
            raise PromotionError(f"Version {entry.version} of {name} is no longer in the registry, so it cannot be "
                                 "promoted.", hint="Register the version again (or replay the versions the registry "
                                                   "holds now); the run's evidence still stands.") from exc
    with chain.locked():
        _verified(chain, registry)
        aliases = registry.aliases(name)
        if aliases.get(CHAMPION) != champion.version or aliases.get(CHALLENGER) != challenger.version:
            raise PromotionError(
                f"Conflict: the aliases moved since this run (champion is now v{aliases.get(CHAMPION)}, challenger "
                f"v{aliases.get(CHALLENGER)}; the run compared v{champion.version} with v{challenger.version}): "
                f"{_winner(chain, name, aliases.get(CHAMPION))}.",
                hint="Nothing was moved. Replay again so the evidence matches the registry.")
        record = AuditRecord.new(PROMOTE, name, champion.version, challenger.version, reviewer, reason, record_id,
                                 run_id=manifest.run_id, gate=verdict.as_dict(), policy=verdict.policy.as_record(),
                                 override=override, report=report or {})
        return _move_and_record(registry, chain, record)


def last_promotion(home: SandboxHome, model_name: str) -> AuditRecord | None:
    """The latest promotion of this model that has not been rolled back."""
    records = AuditChain(home).records(model_name)
    undone = {r.undoes for r in records if r.action == ROLLBACK}
    promotions = [r for r in records if r.action == PROMOTE and r.id not in undone]
    return promotions[-1] if promotions else None


def rollback(home: SandboxHome, model_name: str, reviewer: str, reason: str, confirmed: bool = True,
             registry: Registry | None = None) -> AuditRecord:
    """Put `champion` back on the version the last promotion replaced, as the verified chain says."""
    require_signoff(reviewer, reason, confirmed)
    registry = registry or Registry(home)
    chain = AuditChain(home)
    with chain.locked():
        _verified(chain, registry)
        promotion = last_promotion(home, model_name)
        if promotion is None:
            raise PromotionError(f"There is no promotion of '{model_name}' to roll back.",
                                 hint="Rollback undoes the last promotion made in this sandbox.")
        current = registry.aliases(model_name).get(CHAMPION)
        if current is None or current != promotion.to_version:
            raise PromotionError(f"Conflict: the champion is v{current}, not v{promotion.to_version} as the last "
                                 f"promotion left it: {_winner(chain, model_name, current)}.",
                                 hint="Nothing was moved. Check the registry before rolling back.")
        registry.require_version(model_name, promotion.from_version)
        record = AuditRecord.new(ROLLBACK, model_name, current, promotion.from_version, reviewer, reason,
                                 undoes=promotion.id)
        return _move_and_record(registry, chain, record)
