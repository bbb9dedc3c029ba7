"""The sandbox as one object: the calls the pages and the command line make, in order.

    load_demo -> start_servers -> prepare_replay -> begin_replay -> evidence -> gate -> promote
    check_capacity -> run_capacity (each model alone) -> the gate's capacity checks
    check_explanation -> start_explanation (in the background) -> explanation -> the gate's explanation checks
    pin_versions -> ... -> gate -> record_gated -> tag_verdict    (the watcher: a verdict, never a promotion)

A facade of delegates, and nothing more: the running servers are a `ServerPool`
(`backends/pool.py`), replays are prepared and begun by `Replays` (`replay/prepare.py`), and
decisions go to a `DecisionDesk` (`decision/desk.py`), explanations to `Explanations`
(`replay/explain.py`), capacity runs to `CapacityRuns`
(`replay/capacity.py`), their results to a `CapacityStore` (`capacity/store.py`). It owns the long-lived parts of one app
process, so the pages stay thin: widgets, one call here, render. It is a context manager:
leaving it cancels the replay and stops the servers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analytics.distributions import feature_distributions
from .analytics.drift import feature_drift
from .backends.pool import ServerPool
from .capacity.result import CapacityResult
from .capacity.run import CapacitySettings
from .capacity.store import CapacityStore
from .decision.audit import Verification
from .decision.desk import DecisionDesk
from .decision.history import ChampionPeriod
from .decision.record import AuditRecord
from .errors import RunError
from .evidence import RunEvidence, evidence_summary, reference_for, stored_evidence
from .explain.result import Explanation
from .explain.settings import ExplainSettings
from .gate import GatePolicy, GateVerdict, parse_policy
from .home import SandboxHome
from .refs import ModelRef
from .registry.client import Registry, side_by_side
from .registry.demo import DemoModels, bootstrap_demo
from .registry.scan import ArtifactScan, ScanCache
from .registry.scenarios import SCENARIOS, SCENARIOS_BY_MODEL, Scenario
from .registry.team import Credentials
from .replay.capacity import CapacityRuns, PreparedCapacity
from .replay.explain import ExplainHandle, Explanations, PreparedExplanation
from .replay.handle import ReplayHandle
from .replay.prepare import PreparedReplay, Replays
from .report.writer import ReportFiles
from .runs import RunManifest, RunStore
from .runs.settings import ReplaySettings
from .serving.destinations import check_endpoint_url, destination
from .settings import Settings
from .settings import allowed_hosts as host_list
from .traffic import ValidatedTraffic
from .traffic.remote import Fetched, is_remote, read_text
from .traffic.selection import TrafficSelection
from .watch import SeriesPoint, VerdictSeries


class Sandbox:
    """One app's (or one command's) sandbox: its home, registry, run store, servers and replay."""

    def __init__(self, home: SandboxHome | None = None, backend: str | None = None,
                 endpoint_urls: dict[str, str] | None = None, settings: Settings | None = None,
                 allowed_hosts: tuple[str, ...] = ()) -> None:
        self.settings = settings or Settings.from_env()
        self.allowed_hosts = host_list(self.settings.allowed_hosts, allowed_hosts)  # loopback, setting, then the user's
        self.home = (home or SandboxHome.from_env(settings=self.settings)).ensure()
        self.registry = Registry(self.home)
        self.store = RunStore(self.home)
        scans = ScanCache()
        self.pool = ServerPool(self.home, self.settings, self.registry, scans)
        self.replays = Replays(self.home, self.registry, self.store, self.pool)
        self.desk = DecisionDesk(self.home, self.registry, self.store, scans, self.settings.team_mode)
        self.capacity_runs = CapacityRuns(self.pool, self.replays)
        self.capacity_store = CapacityStore(self.home)
        self.explanations = Explanations(self.store, self.pool)
        self.use_backend(backend or self.settings.backend, endpoint_urls)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- where models run -------------------------------------------------------------------
    servers = property(lambda self: self.pool.servers)
    backend = property(lambda self: self.pool.backend)
    backend_name = property(lambda self: self.pool.backend_name)
    backend_notice = property(lambda self: self.pool.backend_notice)
    swept = property(lambda self: self.pool.swept)
    replay = property(lambda self: self.replays.current)
    team_mode = property(lambda self: self.settings.team_mode)

    def use_backend(self, name: str, endpoint_urls: dict[str, str] | None = None) -> str:
        return self.pool.use_backend(name, endpoint_urls, self.allowed_hosts)

    def allow_host(self, host: str) -> tuple[str, ...]:
        """Add a host to this sandbox's endpoint allow-list (for its life only); the new list."""
        self.allowed_hosts = host_list(self.allowed_hosts, [host])
        return self.allowed_hosts

    def endpoint_destinations(self, urls: dict[str, str]) -> dict[str, str]:
        """role -> where its traffic would go (`POST URL`), checked against the allow-list."""
        return {role: destination(check_endpoint_url(url, self.allowed_hosts, role))
                for role, url in urls.items() if url and url.strip()}

    # -- models -----------------------------------------------------------------------------
    def load_demo(self) -> list[DemoModels]:
        """The demo's models registered; on containers whose runtime image is not built yet, the
        demo is served on processes while the images build in the background."""
        demos = bootstrap_demo(self.home)
        self.pool.processes_while_images_build(SCENARIOS["credit"].model_name)
        return demos

    def model_names(self) -> list[str]:
        return self.registry.model_names()

    def aliases(self, model_name: str) -> dict[str, str]:
        """alias -> version of one registered model ({} when there is no such model)."""
        return self.registry.aliases(model_name)

    def resolve_pair(self, model_name: str) -> dict[str, ModelRef]:
        return self.pool.resolve_pair(model_name)

    def pin_versions(self, model_name: str, versions: dict[str, str] | None) -> None:
        """Compare these versions (role -> version) in place of the aliases' (None: the aliases again)."""
        self.pool.pin(model_name, versions)

    def versions_side_by_side(self, manifest: RunManifest) -> list[dict[str, str]]:
        """A run's two versions as the registry and their training runs describe them: created,
        training run, description, parameters, metrics and tags, the differences first."""
        facts = [self.registry.version_facts(ModelRef(m.name, m.version)) for m in (manifest.champion,
                                                                                    manifest.challenger)]
        return side_by_side(*facts)

    def scan_models(self, refs: dict[str, ModelRef]) -> dict[str, ArtifactScan]:
        return self.pool.scans.scan(self.home, refs)

    def scenario_for(self, model_name: str) -> Scenario | None:
        return SCENARIOS_BY_MODEL.get(model_name)

    # -- servers ----------------------------------------------------------------------------
    def start_servers(self, model_name: str, progress=None, timeout: float = 120.0, replica: bool = False,
                      runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = (), unchecked: str = ""):
        """Both servers started (on a cluster's endpoints: checked to serve the versions named,
        unless `unchecked` gives the reason to skip that, which the run keeps)."""
        return self.pool.start(model_name, progress, timeout, replica, runtimes, trust, unchecked)

    def stop_servers(self) -> None:
        self.pool.stop_all()

    def server_status(self) -> list[dict[str, object]]:
        return self.pool.status()

    def server_log(self, role: str, lines: int = 40) -> str:
        return self.pool.log_tail(role, lines)

    def stop_server(self, role: str) -> None:
        self.pool.stop(role)

    def restart_server(self, role: str) -> None:
        self.pool.restart(role)

    def servers_match(self, model_name: str) -> bool:
        return self.pool.serve(model_name)

    # -- traffic and replay -----------------------------------------------------------------
    def fetch_remote(self, url: str, progress=None) -> Fetched:
        """An object-storage URL (an object, or every object under a prefix) fetched into the home."""
        return self.replays.localize(url, progress=progress)

    def prepare_traffic(self, model_name: str, path: str | Path, reference_path: str | None = None,
                        sample_rows: int | None = None) -> ValidatedTraffic:
        """The traffic checked against the champion's signature (for the Replay page's report)."""
        return self.replays.validate_traffic(model_name, path, reference_path=reference_path, sample_rows=sample_rows)

    def prepare_replay(self, model_name: str, traffic_path: str | Path,
                       selection: TrafficSelection = TrafficSelection(), settings: ReplaySettings = ReplaySettings(),
                       labels_path: str | None = None, reference_path: str | None = None,
                       label_column: str | None = None, validated: ValidatedTraffic | None = None,
                       task: str | None = None, progress=None) -> PreparedReplay:
        """Every input of a replay checked once, before anything slow starts (see `Replays.prepare`);
        `task` overrides what the models say they are; `progress` hears how much of an object
        storage URL has been read."""
        policy = self.policy_for(model_name)  # the model's policy, read now: a broken one refuses before anything
        return self.replays.prepare(model_name, traffic_path, selection, settings, labels_path, reference_path,
                                    label_column, validated, canary_min_answers=lambda: policy.canary_min_answers,
                                    task=task, progress=progress)

    def begin_replay(self, prepared: PreparedReplay | str, traffic_path: str | Path | None = None,
                     selection: TrafficSelection = TrafficSelection(), settings: ReplaySettings = ReplaySettings(),
                     labels_path: str | None = None, reference_path: str | None = None,
                     label_column: str | None = None) -> ReplayHandle:
        """A prepared replay begun on the running servers; given a model name and files instead, they
        are prepared first."""
        if not isinstance(prepared, PreparedReplay):
            if traffic_path is None:
                raise RunError("A replay needs its traffic.", hint="Name the recorded traffic file.")
            prepared = self.prepare_replay(prepared, traffic_path, selection, settings, labels_path, reference_path,
                                           label_column)
        return self.replays.begin(prepared)

    def begin_demo_replay(self, scenario_key: str = "credit", sample_size: int = 1000) -> ReplayHandle:
        """The demo's replay: a seeded sample spread over the whole recorded window."""
        scenario = SCENARIOS[scenario_key]
        return self.begin_replay(scenario.model_name, scenario.file("traffic"), TrafficSelection(sample_size))

    def cancel_replay(self) -> None:
        if self.replay is not None:
            self.replay.cancel()

    def attach_labels(self, run_id: str, labels_path: str | Path, label_column: str | None = None) -> dict:
        return self.replays.attach_labels(run_id, labels_path, label_column)

    def keep_upload(self, name: str, data: bytes) -> Path:
        """An uploaded file kept under the home by content hash (`uploads/<sha256 prefix>/<name>`)."""
        return self.replays.keep(data, name)

    # -- runs and evidence ------------------------------------------------------------------
    def runs(self, model_name: str | None = None) -> list[RunManifest]:
        """Runs, newest first; only one model's when named."""
        return [r for r in self.store.list_runs() if model_name is None or r.model_name == model_name]

    def run(self, run_id: str) -> RunManifest:
        return self.store.manifest(run_id)

    def evidence(self, run_id: str) -> RunEvidence:
        """The run's evidence, stored in its folder once computed (see `stored_evidence`)."""
        return stored_evidence(self.store, run_id)

    def labelled(self, run_id: str) -> int | None:
        """How many of the run's requests had a label when its evidence was last computed."""
        summary = evidence_summary(self.store, run_id)
        return None if summary is None else int(summary.get("labelled", 0))

    def drift_table(self, run_id: str, choices: dict[str, tuple[str | None, float | None]]) -> pd.DataFrame:
        """The run's feature drift with a chosen test and/or threshold for some columns."""
        manifest = self.store.manifest(run_id)
        reference = reference_for(manifest)
        if reference is None:
            raise RunError("This run names no training reference, so drift cannot be measured.")
        return feature_drift(reference, self.store.requests(run_id), manifest.numeric, manifest.categorical, choices)

    def drift_distributions(self, run_id: str, features: list[str]) -> dict[str, pd.DataFrame]:
        """Each named input's shares in the training reference and in the run's traffic."""
        manifest = self.store.manifest(run_id)
        reference = reference_for(manifest)
        if reference is None:
            return {}
        requests = self.store.requests(run_id)
        return feature_distributions(reference, requests, features, manifest.numeric)

    # -- why they differ (see Explanations) ------------------------------------------------
    def check_explanation(self, run_id: str, settings: ExplainSettings | None = None) -> PreparedExplanation:
        """An explanation of the run checked before anything is sent: a shadow run that ended, and
        live servers of its own two versions (or a cluster's endpoints)."""
        return self.explanations.check(run_id, settings or ExplainSettings())

    def serve_run(self, run_id: str) -> bool:
        """Start the servers of the run's model when they do not serve its own two versions (on a
        cluster's endpoints, nothing); whether any were started. The aliases must still point at
        those versions: `check_explanation` says so when they do not."""
        manifest = self.run(run_id)
        if self.backend_name == "endpoint" or self.pool.serve_versions(manifest):
            return False
        self.start_servers(manifest.model_name)
        return True

    def start_explanation(self, prepared: PreparedExplanation) -> ExplainHandle:
        """Both models explained in a worker process; stored with the run when it ends."""
        return self.explanations.start(prepared)

    def cancel_explanation(self) -> None:
        self.explanations.cancel()

    @property
    def explaining(self) -> ExplainHandle | None:
        return self.explanations.current

    def explanation(self, run_id: str) -> Explanation | None:
        """The run's stored explanation, None when it was never explained."""
        return self.explanations.stored(run_id)

    # -- capacity (see CapacityRuns) ---------------------------------------------------------
    def check_capacity(self, model_name: str, traffic_path: str | Path | None, settings: CapacitySettings,
                       runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = ()) -> PreparedCapacity:
        """Every input of a capacity run checked, before any server starts (the demo's models
        default to their scenario's recorded traffic)."""
        if traffic_path is None:
            scenario = self.scenario_for(model_name)
            if scenario is None:
                raise RunError(f"A capacity run of {model_name} needs recorded traffic to send.",
                               hint="Name the file with --traffic (CSV, Parquet or JSON Lines).")
            traffic_path = scenario.file("traffic")
        return self.capacity_runs.check(model_name, traffic_path, settings, runtimes, trust)

    def run_capacity(self, prepared: PreparedCapacity, progress=None) -> CapacityResult:
        """Both models measured one at a time on this sandbox's backend; the result kept under the home."""
        result = self.capacity_runs.run(prepared, progress)
        self.capacity_store.save(result)
        return result

    def capacity_results(self, model_name: str | None = None) -> list[CapacityResult]:
        """Capacity runs kept under the home (of one model), newest first."""
        return self.capacity_store.results(model_name)

    # -- decisions (see DecisionDesk) -------------------------------------------------------
    def policy_for(self, model_name: str, path: str | Path | None = None) -> GatePolicy:
        """The model's policy, or the TOML file at `path`, which may be an object-storage URL."""
        if path is not None and is_remote(str(path)):
            return parse_policy(read_text(str(path)), str(path))
        return self.desk.policy_for(model_name, path)

    def gate(self, evidence: RunEvidence, policy: GatePolicy | None = None) -> GateVerdict:
        return self.desk.gate(evidence, policy)

    def report(self, evidence: RunEvidence, policy: GatePolicy | None = None, folder: Path | None = None) -> ReportFiles:
        return self.desk.report(evidence, policy, folder)

    def promote(self, evidence: RunEvidence, reviewer: str, reason: str, confirmed: bool, override: bool = False,
                policy: GatePolicy | None = None, credentials: Credentials | None = None) -> AuditRecord:
        return self.desk.promote(evidence, reviewer, reason, confirmed, override, policy, credentials)

    def rollback(self, model_name: str, reviewer: str, reason: str, confirmed: bool = True,
                 credentials: Credentials | None = None) -> AuditRecord:
        return self.desk.rollback(model_name, reviewer, reason, confirmed, credentials)

    def record_gated(self, evidence: RunEvidence, verdict: GateVerdict, by: str, reason: str,
                     report: dict[str, str] | None = None) -> AuditRecord:
        return self.desk.record_gated(evidence, verdict, by, reason, report)

    def publish_report(self, evidence: RunEvidence, files: ReportFiles) -> str:
        return self.desk.publish_report(evidence, files)

    def tag_verdict(self, ref: ModelRef, status: str, reason: str, run_id: str = "", report: str = "") -> None:
        self.desk.tag_verdict(ref, status, reason, run_id, report)

    def verdict_series(self, model_name: str | None = None) -> list[SeriesPoint]:
        """The verdicts the watcher reached (of one model), oldest first."""
        return VerdictSeries(self.home.watch_dir).points(model_name)

    def audit(self, model_name: str | None = None) -> list[AuditRecord]:
        return self.desk.audit(model_name)

    def verify_audit(self) -> Verification:
        return self.desk.verify_audit()

    def history(self, model_name: str) -> tuple[list[ChampionPeriod], str | None]:
        return self.desk.history(model_name)

    def last_promotion(self, model_name: str) -> AuditRecord | None:
        return self.desk.last_promotion(model_name)

    def close(self) -> None:
        self.explanations.cancel()
        self.cancel_replay()
        if self.replay is not None:
            self.replay.wait(10)
        self.stop_servers()


__all__ = ["Sandbox", "TrafficSelection"]
