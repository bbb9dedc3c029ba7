"""The decision desk: a run's evidence judged, reported, signed off and recorded.

`DecisionDesk` is what the `Sandbox` hands every decision to: the policy for a model, the
gate's verdict (with both models' signatures and artifact scans), the offline report, promotion
and rollback (in team mode as the reviewer MLflow authenticates), and the record read back:
the audit chain, its verification and the champion's history.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..capacity.store import CapacityStore
from ..errors import PromotionError, RegistryError, StagingError
from ..evidence import RunEvidence
from ..explain.result import load_explanation
from ..gate import GatePolicy, GateVerdict, SignaturePair, default_policy, evaluate_gate, load_policy
from ..home import SandboxHome
from ..refs import ModelRef
from ..registry.client import Registry
from ..registry.scan import ArtifactScan, ScanCache
from ..registry.team import Credentials, ReviewerWrites, authenticated_user
from ..report.writer import ReportFiles, write_report
from ..roles import CHALLENGER, CHAMPION
from ..runs import RunManifest, RunStore
from ..runs.folder import DECISIONS
from . import gated, promotion
from .audit import AuditChain, Verification
from .history import ChampionPeriod, champion_history, consistency
from .record import PROMOTE, AuditRecord, new_record_id


class DecisionDesk:
    """Gate, report, promote, rollback and the record, for one sandbox home."""

    def __init__(self, home: SandboxHome, registry: Registry, store: RunStore, scans: ScanCache,
                 team_mode: bool) -> None:
        self.home, self.registry, self.store, self.scans, self.team_mode = home, registry, store, scans, team_mode

    def policy_for(self, model_name: str, path: str | Path | None = None) -> GatePolicy:
        """The promotion policy: the file given, else HOME/policies/<model name>.toml, else the
        sandbox's default (staging/gate/default.toml)."""
        if path is not None:
            return load_policy(path)
        named = self.home.policies_dir / f"{model_name}.toml"
        return load_policy(named) if named.exists() else default_policy()

    def signatures(self, manifest: RunManifest) -> SignaturePair | None:
        """Both models' signatures from the registry, or None when either cannot be read."""
        try:
            champion = self.registry.input_output_specs(ModelRef(manifest.champion.name, manifest.champion.version))
            challenger = self.registry.input_output_specs(ModelRef(manifest.challenger.name,
                                                                   manifest.challenger.version))
        except RegistryError:
            return None
        return SignaturePair(champion[0], challenger[0], champion[1], challenger[1])

    def run_scans(self, manifest: RunManifest) -> list[ArtifactScan] | str:
        """The security scans of a run's two model versions, or why their files cannot be read."""
        refs = {role: ModelRef(entry.name, entry.version)
                for role, entry in ((CHAMPION, manifest.champion), (CHALLENGER, manifest.challenger))}
        try:
            return list(self.scans.scan(self.home, refs).values())
        except StagingError as exc:
            return exc.message

    def gate(self, evidence: RunEvidence, policy: GatePolicy | None = None) -> GateVerdict:
        """The run's evidence judged under the policy (by default the model's, see `policy_for`)."""
        policy = policy or self.policy_for(evidence.manifest.model_name)
        manifest = evidence.manifest
        versions = {CHAMPION: manifest.champion.version, CHALLENGER: manifest.challenger.version}
        capacity = CapacityStore(self.home).latest(manifest.model_name, versions)
        explanation = load_explanation(self.store.folder(manifest.run_id))
        return evaluate_gate(evidence, policy, self.signatures(manifest), self.run_scans(manifest), capacity,
                             explanation)

    def report(self, evidence: RunEvidence, policy: GatePolicy | None = None,
               folder: Path | None = None) -> ReportFiles:
        """The run's offline report and evidence file (in its run folder unless `folder` is given)."""
        verdict = self.gate(evidence, policy)
        target = folder or self.store.folder(evidence.manifest.run_id)
        return write_report(Path(target), "report", evidence, verdict, self.signatures(evidence.manifest))

    def _signer(self, reviewer: str, credentials: Credentials | None) -> tuple[str, Registry]:
        """(the reviewer as recorded, the registry the move is made through). In team mode the
        reviewer is the user MLflow authenticates, and the move is made with their credentials."""
        if not self.team_mode:
            return reviewer, self.registry
        if credentials is None:
            raise PromotionError("In team mode a sign-off needs your MLflow user name and password.",
                                 hint="The alias moves as you, so MLflow's permissions decide; the record names "
                                      "the user MLflow signed in.")
        user = authenticated_user(self.home.tracking_uri, credentials)
        return user, Registry(self.home, ReviewerWrites(self.home.tracking_uri, credentials))

    def promote(self, evidence: RunEvidence, reviewer: str, reason: str, confirmed: bool, override: bool = False,
                policy: GatePolicy | None = None, credentials: Credentials | None = None) -> AuditRecord:
        """Move `champion` to the run's challenger on the gate's verdict under `policy`. The decision
        report is written first and its SHA-256 sealed into the record; afterwards it is logged as an
        artifact of the challenger's version in the registry (a failure there is returned as
        `report_error`, the promotion stands). In team mode `credentials` sign (see `_signer`)."""
        promotion.require_signoff(reviewer if not self.team_mode else "-", reason, confirmed)
        reviewer, registry = self._signer(reviewer, credentials)
        manifest = evidence.manifest
        verdict = self.gate(evidence, policy)
        record_id = new_record_id()
        decision = {"record": record_id, "action": PROMOTE, "reviewer": reviewer.strip(), "reason": reason.strip(),
                    "override": override, "gate": verdict.status, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "moves": f"{manifest.model_name}@champion from v{manifest.champion.version} to "
                             f"v{manifest.challenger.version}"}
        files = write_report(self.store.folder(manifest.run_id) / DECISIONS, record_id, evidence, verdict,
                             self.signatures(manifest), decision)
        try:
            record = promotion.promote(self.home, verdict, evidence, reviewer, reason, confirmed, override,
                                       record_id=record_id, report=files.as_record(), registry=registry)
        except BaseException:
            files.html.unlink(missing_ok=True)
            files.json.unlink(missing_ok=True)
            raise
        try:
            uri = self._log_report(evidence, files)
            if uri:
                self.registry.tag_version(_challenger(evidence), f"sandbox.report.{manifest.run_id}", uri)
            return record.replace(report_uri=uri or "")
        except RegistryError as exc:
            return record.replace(report_error=exc.message)

    def rollback(self, model_name: str, reviewer: str, reason: str, confirmed: bool = True,
                 credentials: Credentials | None = None) -> AuditRecord:
        promotion.require_signoff(reviewer if not self.team_mode else "-", reason, confirmed)
        reviewer, registry = self._signer(reviewer, credentials)
        return promotion.rollback(self.home, model_name, reviewer, reason, confirmed, registry=registry)

    def record_gated(self, evidence: RunEvidence, verdict: GateVerdict, by: str, reason: str,
                     report: dict[str, str] | None = None) -> AuditRecord:
        """A verdict reached without a person (the watcher's), sealed into the chain; nothing moves."""
        return gated.record_gated(self.home, self.registry, verdict, evidence, by, reason, report)

    def publish_report(self, evidence: RunEvidence, files: ReportFiles) -> str:
        """Where the registry's readers find a run's report: an artifact of the challenger version's
        own MLflow run when it has one (and the registry takes it), else the file in the run folder."""
        try:
            uri = self._log_report(evidence, files)
        except RegistryError:
            uri = None
        return f"{uri}/{files.html.name}" if uri else str(files.html)

    def _log_report(self, evidence: RunEvidence, files: ReportFiles) -> str | None:
        """A run's report logged as an artifact of the challenger version's MLflow run (its URI, or
        None when the version names no run); a `RegistryError` when the registry refuses."""
        return self.registry.log_report(_challenger(evidence), [files.html, files.json],
                                        f"sandbox-reports/{evidence.manifest.run_id}")

    def tag_verdict(self, ref: ModelRef, status: str, reason: str, run_id: str = "", report: str = "") -> None:
        gated.tag_verdict(self.registry, ref, status, reason, run_id, report)

    def audit(self, model_name: str | None = None) -> list[AuditRecord]:
        """The audit records (of one model, when named), oldest first."""
        return AuditChain(self.home).records(model_name)

    def verify_audit(self) -> Verification:
        """The audit chain checked in the file and against the registry's anchors."""
        return AuditChain(self.home).verify(self.registry.audit_anchors)

    def history(self, model_name: str) -> tuple[list[ChampionPeriod], str | None]:
        """Who was champion when (from the chain), and a sentence if the registry disagrees."""
        periods = champion_history(self.audit(model_name))
        return periods, consistency(periods, self.registry.aliases(model_name).get(CHAMPION))

    def last_promotion(self, model_name: str) -> AuditRecord | None:
        return promotion.last_promotion(self.home, model_name)


def _challenger(evidence: RunEvidence) -> ModelRef:
    return ModelRef(evidence.manifest.challenger.name, evidence.manifest.challenger.version)
