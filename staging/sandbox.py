"""The sandbox as one object: the calls the pages and the command line make, in order.

    load_demo -> start_servers -> prepare_traffic -> begin_replay -> evidence -> gate -> promote

It owns the long-lived parts of one app process (the running model servers and the
replay in progress), so the pages stay thin: widgets, one call here, render. It is a
context manager: leaving it cancels the replay and stops the servers.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import promotion
from .analytics.drift import feature_drift
from .analytics.drift_samples import reference_profile
from .artifact_scan import ArtifactScan, refuse_dangerous, scan_model_files
from .audit import AuditChain, Verification
from .backends import ManagedServer, ProcessBackend, choose_backend, start_pair
from .demo import DemoModels, bootstrap_demo
from .destinations import allowed_hosts as allowed_host_list
from .destinations import check_endpoint_url, destination
from .errors import BackendError, PromotionError, RegistryError, RunError, StagingError, TrafficError
from .evidence import RunEvidence, evidence_summary, reference_for, stored_evidence
from .gate import GatePolicy, GateVerdict, SignaturePair, default_policy, evaluate_gate, load_policy
from .history import ChampionPeriod, champion_history, consistency
from .home import SandboxHome
from .labels import CheckedLabels, check_labels, join_labels
from .protocols import metadata_inputs, metadata_mismatch, mlflow_type
from .refs import ModelRef
from .registry import Registry
from .replay.handle import ReplayHandle, start_replay
from .replay.plan import send_offsets, stable_share
from .replay.settings import ReplaySettings
from .report import ReportFiles, write_report
from .roles import CHALLENGER, CHAMPION, REPLICA, ROLES
from .runs import ModelEntry, RunManifest, RunStore, SelectionRecord, TrafficRecord
from .scenarios import SCENARIOS, SCENARIOS_BY_MODEL, Scenario
from .settings import Settings
from .tables import sha256_of
from .team import Credentials, ReviewerWrites, authenticated_user
from .traffic import (
    NUMERIC_KINDS,
    FeatureSpec,
    ValidatedTraffic,
    load_and_validate,
    out_of_range,
    specs_from_signature,
)
from .traffic.validation import UNREADABLE, read_error


@dataclass(frozen=True)
class TrafficSelection:
    sample_size: int | None = None  # None: every request in the window
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    seed: int = 0
    sample_percent: float | None = None  # keep this share of requests, chosen by a hash of their id


def select_requests(requests: pd.DataFrame, selection: TrafficSelection) -> pd.DataFrame:
    """Requests inside the time window, then a percentage chosen by a hash of the request id
    (the same requests every time, as GoReplay's percentage), then a seeded random sample of
    a fixed size; in recorded order."""
    chosen = requests
    times = requests["timestamp"]
    if selection.start is not None and times.notna().any():
        chosen = chosen[times.loc[chosen.index] >= _utc(selection.start)]
    if selection.end is not None and times.notna().any():
        chosen = chosen[times.loc[chosen.index] < _utc(selection.end)]
    if selection.sample_percent is not None and selection.sample_percent < 100:
        chosen = chosen[stable_share(chosen["request_id"]) < selection.sample_percent / 100]  # by hash of the id
    if selection.sample_size is not None and selection.sample_size < len(chosen):
        chosen = chosen.sample(n=selection.sample_size, random_state=selection.seed).sort_index()
    return chosen.reset_index(drop=True)


def sampled_while_reading(selection: TrafficSelection) -> int | None:
    """The rows a file may be sampled to while it is read: the sample's size, when the selection
    is a plain seeded sample (a time window or a percentage needs every row seen first)."""
    plain = selection.start is None and selection.end is None and selection.sample_percent is None
    return selection.sample_size if plain and selection.sample_size else None


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class Sandbox:
    """One app's (or one command's) sandbox: its home, registry, run store, servers and replay."""

    def __init__(self, home: SandboxHome | None = None, backend: str | None = None,
                 endpoint_urls: dict[str, str] | None = None, settings: Settings | None = None,
                 allowed_hosts: tuple[str, ...] = ()) -> None:
        self.settings = settings or Settings.from_env()
        # the endpoint allow-list: loopback, the setting, then what the user adds (flag or page)
        self.allowed_hosts = allowed_host_list(self.settings.allowed_hosts, allowed_hosts)
        self.home = (home or SandboxHome.from_env(settings=self.settings)).ensure()
        self.registry = Registry(self.home)
        self.store = RunStore(self.home)
        self.servers: dict[str, ManagedServer] = {}
        self.replay: ReplayHandle | None = None
        self._lock = threading.Lock()
        self.swept: list[str] = []
        self._scans: dict[str, ArtifactScan] = {}  # models:/NAME/VERSION -> its scan
        self.use_backend(backend or self.settings.backend, endpoint_urls)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def use_backend(self, name: str, endpoint_urls: dict[str, str] | None = None) -> str:
        """Switch backend (running servers are stopped first); returns the notice for the user."""
        with self._lock:
            self._stop_all()
            self.backend_name = name
            self.backend, self.backend_notice = choose_backend(name, self.home, endpoint_urls,
                                                               settings=self.settings,
                                                               allowed_hosts=self.allowed_hosts)
            # a process server may outlive a switch to another backend: sweep those too (idempotent)
            self.swept += ProcessBackend(self.home).sweep_leftovers() + self.backend.sweep_leftovers()
        return self.backend_notice

    def allow_host(self, host: str) -> tuple[str, ...]:
        """Add a host to this sandbox's endpoint allow-list (for its life only); the new list."""
        self.allowed_hosts = allowed_host_list(self.allowed_hosts, [host])
        return self.allowed_hosts

    def endpoint_destinations(self, urls: dict[str, str]) -> dict[str, str]:
        """role -> where its traffic would go (`POST URL`), checked against the allow-list; a
        ConfigurationError names the first URL that may not be used, and why."""
        return {role: destination(check_endpoint_url(url, self.allowed_hosts, role))
                for role, url in urls.items() if url and url.strip()}

    # -- models ---------------------------------------------------------------------------
    def load_demo(self) -> list[DemoModels]:
        return bootstrap_demo(self.home)

    def model_names(self) -> list[str]:
        return self.registry.model_names()

    def aliases(self, model_name: str) -> dict[str, str]:
        """alias -> version of one registered model ({} when there is no such model)."""
        return self.registry.aliases(model_name)

    def resolve_pair(self, model_name: str) -> dict[str, ModelRef]:
        return {role: self.registry.resolve(model_name, role) for role in ROLES}

    def scan_models(self, refs: dict[str, ModelRef]) -> dict[str, ArtifactScan]:
        """role -> the security scan of that model version's files, made once per version (a
        registered version's files cannot change; the gate asks on every evaluation)."""
        from .backends.images import model_files

        for ref in refs.values():
            if ref.uri not in self._scans:
                self._scans[ref.uri] = scan_model_files(ref.uri, model_files(self.home, ref) / "model")
        return {role: self._scans[ref.uri] for role, ref in refs.items()}

    def scenario_for(self, model_name: str) -> Scenario | None:
        return SCENARIOS_BY_MODEL.get(model_name)

    # -- servers --------------------------------------------------------------------------
    def start_servers(self, model_name: str, progress=None, timeout: float = 120.0,
                      replica: bool = False, runtimes: dict[str, str] | None = None) -> dict[str, ManagedServer]:
        """Start champion and challenger in parallel, replacing any servers already running;
        with `replica`, a second champion too, whose differences from the first are the noise floor
        (on another runtime, say MLServer, that floor is the runtime's own effect). `runtimes`:
        role -> `mlflow` or `mlserver` ("*" for every role)."""
        refs = self.resolve_pair(model_name)
        if progress is not None:
            for role in refs:
                progress(role, "scanning the model's files for code that runs when it loads…")
        refuse_dangerous(list(self.scan_models(refs).values()))  # before anything loads them
        if replica:
            refs[REPLICA] = refs[CHAMPION]
        with self._lock:
            self._stop_all()
            if progress is not None:
                self.backend.set_build_log(lambda line: progress("image", line))
            self.servers = start_pair(self.backend, refs, progress, timeout, runtimes)
        return self.servers

    def stop_servers(self) -> None:
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        for server in self.servers.values():
            self.backend.stop(server)
        self.servers = {}

    def server_status(self) -> list[dict[str, object]]:
        """One row per running server: health, uptime and, for containers, state, image, CPU, memory."""
        def row(server: ManagedServer) -> dict:
            alive = self.backend.is_running(server)
            facts: dict[str, object] = {"role": server.role, "model": server.model.uri, "backend": server.backend,
                     "runtime": server.runtime or "elsewhere", "protocol": server.endpoint.protocol,
                     "url": server.endpoint.url, "running": alive,
                     "healthy": alive and server.endpoint.healthy(), "uptime_s": round(server.uptime_s)}
            facts.update(self.backend.status(server))
            return facts

        with ThreadPoolExecutor(max_workers=2) as pool:  # container stats take about a second each
            return list(pool.map(row, list(self.servers.values())))

    def server_log(self, role: str, lines: int = 40) -> str:
        server = self.servers[role]
        return self.backend.log_tail(server, lines)

    def stop_server(self, role: str) -> None:
        with self._lock:
            server = self.servers.pop(role, None)
            if server is not None:
                self.backend.stop(server)

    def restart_server(self, role: str) -> None:
        with self._lock:
            self.servers[role] = self.backend.restart(self.servers[role])

    def servers_match(self, model_name: str) -> bool:
        """Whether the running servers serve the versions the aliases point at now."""
        if not set(ROLES) <= set(self.servers):
            return False
        refs = self.resolve_pair(model_name)
        return all((self.servers[r].model.name, self.servers[r].model.version) == (refs[r].name, refs[r].version)
                   for r in ROLES)

    # -- traffic and replay ---------------------------------------------------------------
    def prepare_traffic(self, model_name: str, path: str | Path, keep: tuple[str, ...] = (),
                        reference_path: str | None = None, sample_rows: int | None = None) -> ValidatedTraffic:
        """The traffic checked against the champion's signature, with the values that fall outside
        the training reference (the scenario's, or `reference_path`) counted in the report."""
        champion = self.registry.resolve(model_name, CHAMPION)
        try:
            specs = specs_from_signature(self.registry.signature(champion))
        except RegistryError:
            from_metadata = self._v2_specs()  # no MLflow signature: a V2 champion's metadata says what it takes
            if from_metadata is None:
                raise
            specs = from_metadata
        scenario = self.scenario_for(model_name)
        validated = load_and_validate(path, specs, sample_rows=sample_rows, source=f"traffic file {Path(path).name}",
                                      keep_columns=keep,
                                      id_column=scenario.request_id_column if scenario else None,
                                      time_column=scenario.timestamp_column if scenario else None)
        reference = reference_path or (str(scenario.file("train")) if scenario else None)
        if reference and Path(reference).exists():
            numeric = tuple(s.name for s in specs if s.kind in NUMERIC_KINDS)
            try:
                profile = reference_profile(reference, numeric, tuple(s.name for s in specs if s.name not in numeric))
            except (ValueError, KeyError, OSError):  # a reference without every input: no range to report
                return validated
            report = replace(validated.report, out_of_range=out_of_range(validated.requests, profile))
            validated = replace(validated, report=report)
        return validated

    def begin_replay(self, model_name: str, traffic_path: str | Path, selection: TrafficSelection,
                     settings: ReplaySettings = ReplaySettings(), labels_path: str | None = None,
                     reference_path: str | None = None, label_column: str | None = None) -> ReplayHandle:
        if self.replay is not None and not self.replay.done:
            raise RunError("A replay is already running.", hint="Wait for it to finish or cancel it first.")
        if not self.servers_match(model_name):
            raise BackendError(f"The model servers for '{model_name}' are not running (or serve other versions).",
                               hint="Start them on the Environment page first.")
        dead = [s.role for s in self.servers.values() if not self.backend.is_running(s)]
        if dead:
            raise BackendError(f"The {' and '.join(dead)} server has stopped.",
                               hint="Restart it on the Environment page.")
        keep = ("_event_id",) + ((settings.split_key,) if settings.split_key else ())
        validated = self.prepare_traffic(model_name, traffic_path, keep, reference_path, sampled_while_reading(selection))
        if settings.split_key and settings.split_key not in validated.requests.columns:
            raise TrafficError(f"The A/B split key '{settings.split_key}' is not a column of the traffic file.",
                               hint="Choose one of its columns (a customer id, say), or leave the key empty to "
                                    "split by request id.")
        self._check_v2_metadata(validated.features)
        if validated.requests.empty:
            reasons = "; ".join(f"{reason} ({count:,})" for reason, count in list(validated.report.reasons.items())[:4])
            raise TrafficError(f"Every one of the {validated.report.rows_read:,} rows of {Path(traffic_path).name} was "
                               f"quarantined: {reasons}.",
                               hint="Fix the rows the reasons name (the Replay page lists them), or choose the file "
                                    "recorded for this model.")
        requests = select_requests(validated.requests, selection)
        if requests.empty:
            raise TrafficError("No request falls inside the chosen time window.",
                               hint="Widen the window or clear it.")
        # the schedule is checked here, not in the worker, so that a timing the traffic cannot
        # support (as recorded, without timestamps) is refused before anything starts
        send_offsets(settings.timing, len(requests), requests.get("timestamp"), settings.speed, settings.rate_per_s)
        if settings.mode == "canary" and settings.canary_min_answers is None:
            settings = replace(settings, canary_min_answers=self.policy_for(model_name).canary_min_answers)
        scenario = self.scenario_for(model_name)
        manifest = self._manifest(model_name, traffic_path, validated, requests, selection, settings, scenario,
                                  labels_path, reference_path)
        labels = manifest.labels_path and check_labels(manifest.labels_path, manifest.target, label_column)
        self._check_reference(manifest.reference_path, validated.features)
        if manifest.reference_path:  # the run's own copy, by content: the original may change later
            manifest = manifest.replace(reference_path=str(self.keep_file(manifest.reference_path)))
        folder = self.store.create(manifest, requests, validated.quarantine)
        if labels:
            self._keep_labels(folder.name, labels, requests)
        targets = len(self.servers) if settings.mode == "shadow" else 1  # canary and A/B: one model each
        self.replay = start_replay(folder, total=len(requests), targets=targets)
        return self.replay

    def _v2_specs(self) -> list[FeatureSpec] | None:
        """The running champion's V2 metadata as the inputs to validate traffic against, if it has one."""
        server = self.servers.get(CHAMPION)
        metadata = server.endpoint.metadata() if server is not None else None
        inputs = metadata_inputs(metadata or {})
        # V2 metadata has no "optional": a missing value goes as null and the model's answer says
        # whether it takes it (MLServer's MLflow runtime does), rather than quarantining the row here
        return [FeatureSpec(t.name, mlflow_type(t.datatype), required=False) for t in inputs] if inputs else None

    def _check_v2_metadata(self, features: list[str] | tuple[str, ...]) -> None:
        """A model that speaks V2 publishes its inputs: traffic it cannot take is refused here,
        before any request, naming the columns."""
        for role, server in self.servers.items():
            metadata = server.endpoint.metadata()
            if not metadata:
                continue
            missing, unknown = metadata_mismatch(list(features), metadata_inputs(metadata))
            if missing or unknown:
                raise TrafficError(
                    f"The {role}'s V2 metadata at {server.endpoint.url} does not match the traffic: "
                    + "; ".join(part for part in (
                        f"it needs {', '.join(missing)}, which the traffic lacks" if missing else "",
                        f"the traffic has {', '.join(unknown)}, which it does not take" if unknown else "") if part)
                    + ".", hint="Replay traffic recorded for this model, or point the endpoint at the model it was "
                                "recorded for.")

    def _manifest(self, model_name: str, traffic_path: str | Path, validated: ValidatedTraffic,
                  requests: pd.DataFrame, selection: TrafficSelection, settings: ReplaySettings,
                  scenario: Scenario | None, labels_path: str | None, reference_path: str | None) -> RunManifest:
        numeric = [c for c in validated.features if pd.api.types.is_numeric_dtype(validated.requests[c])]
        report = validated.report
        return RunManifest(
            run_id="", model_name=model_name,
            models={role: ModelEntry(name=server.model.name, version=server.model.version,
                                     alias=CHAMPION if role == REPLICA else role, uri=server.model.uri,
                                     endpoint=server.endpoint.url, protocol=server.endpoint.protocol,
                                     runtime=server.runtime) for role, server in self.servers.items()},
            backend=self.backend.name, features=tuple(validated.features),
            task=scenario.task if scenario else "classification",
            target=scenario.target if scenario else None,
            numeric=tuple(scenario.numeric) if scenario else tuple(numeric),
            categorical=(tuple(scenario.categorical) if scenario else
                         tuple(c for c in validated.features if c not in numeric)),
            traffic=TrafficRecord(path=str(Path(traffic_path).resolve()), sha256=sha256_of(traffic_path),
                                  rows_read=report.rows_read, rows_valid=report.rows_valid,
                                  rows_quarantined=report.rows_quarantined, validation=report.summary(),
                                  replayed=len(requests)),
            selection=SelectionRecord(sample_size=selection.sample_size, seed=selection.seed,
                                      sample_percent=selection.sample_percent,
                                      start=str(selection.start) if selection.start is not None else None,
                                      end=str(selection.end) if selection.end is not None else None),
            settings=settings,
            labels_path=labels_path or (str(scenario.file("labels")) if scenario else None),
            reference_path=reference_path or (str(scenario.file("train")) if scenario else None),
        )

    def check_replay_inputs(self, model_name: str, traffic_path: str | Path, labels_path: str | None = None,
                            reference_path: str | None = None, label_column: str | None = None,
                            selection: TrafficSelection | None = None) -> ValidatedTraffic | None:
        """Every file of a replay checked, before anything slow starts: the traffic against the
        champion's signature, the labels (outcome column, request ids), the reference's columns."""
        scenario = self.scenario_for(model_name)
        labels = labels_path or (str(scenario.file("labels")) if scenario else None)
        if labels:
            check_labels(labels, scenario.target if scenario else None, label_column)
        try:
            validated = self.prepare_traffic(model_name, traffic_path, reference_path=reference_path,
                                             sample_rows=sampled_while_reading(selection) if selection else None)
        except RegistryError:
            if self.backend_name != "endpoint":
                raise
            return None  # no MLflow signature: a V2 endpoint's metadata types the traffic once it answers
        self._check_reference(reference_path, validated.features)
        return validated

    def _keep_labels(self, run_id: str, labels: CheckedLabels, requests: pd.DataFrame) -> dict:
        """The labels joined to the run's requests, kept in its folder; the source's hash and counts
        in its manifest."""
        joined, facts = join_labels(labels, requests)
        path = self.store.folder(run_id) / "labels.parquet"
        partial = path.with_suffix(".partial")
        joined.to_parquet(partial, index=False)
        partial.replace(path)
        self.store.update_manifest(run_id, target=labels.target, labels_path=str(path), labels_source=facts)
        return facts

    def attach_labels(self, run_id: str, labels_path: str | Path, label_column: str | None = None) -> dict:
        """Labels that arrived after the run, checked and joined to its requests and kept by the run
        (recorded in its manifest); returns what matched."""
        manifest = self.store.manifest(run_id)
        if manifest.status in ("running", "starting"):
            raise RunError("Labels can be attached once the run has ended.", hint="Wait for it to finish.")
        labels = check_labels(labels_path, manifest.target, label_column)
        facts = self._keep_labels(run_id, labels, self.store.requests(run_id))
        if not facts["matched"]:
            raise TrafficError(f"None of the {len(labels.table):,} labels in {Path(labels_path).name} names a request "
                               f"of run {run_id}.", hint="Check that the file's request ids are the traffic's.")
        return facts

    def _check_reference(self, reference_path: str | None, features) -> None:
        """A training reference must hold the model's inputs, or drift and estimates cannot use it."""
        if not reference_path:
            return
        path = Path(reference_path)
        if not path.exists():
            raise TrafficError(f"The reference file {path} does not exist.", hint="Check the path, or leave it out.")
        try:
            columns = (set(pq.read_schema(path).names) if path.suffix == ".parquet" else
                       set(pd.read_csv(path, nrows=5).columns))
        except UNREADABLE as exc:
            raise read_error(path, path.suffix.lstrip("."), exc) from exc
        missing = [f for f in features if f not in columns]
        if missing:
            raise TrafficError(f"The reference {path.name} lacks the model's inputs {', '.join(missing)}.",
                               hint="Give the model's training data (or an earlier period) with the same columns.")

    def begin_demo_replay(self, scenario_key: str = "credit", sample_size: int = 1000) -> ReplayHandle:
        """The demo's replay: a seeded sample spread over the whole recorded window."""
        scenario = SCENARIOS[scenario_key]
        return self.begin_replay(scenario.model_name, scenario.file("traffic"), TrafficSelection(sample_size))

    def cancel_replay(self) -> None:
        if self.replay is not None:
            self.replay.cancel()

    # -- evidence and decisions -----------------------------------------------------------
    def runs(self, model_name: str | None = None) -> list[RunManifest]:
        """Runs, newest first; only one model's when named."""
        runs = self.store.list_runs()
        return [r for r in runs if model_name is None or r.model_name == model_name]

    def run(self, run_id: str) -> RunManifest:
        return self.store.manifest(run_id)

    def evidence(self, run_id: str) -> RunEvidence:
        """The run's evidence, stored in its folder once computed (see `stored_evidence`)."""
        return stored_evidence(self.store, run_id)

    def labelled(self, run_id: str) -> int | None:
        """How many of the run's requests had a label when its evidence was last computed."""
        summary = evidence_summary(self.store, run_id)
        return None if summary is None else int(summary.get("labelled", 0))

    def uploads_dir(self) -> Path:
        """Where files uploaded in the app are kept, under the sandbox home."""
        folder = self.home.root / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def keep_file(self, path: str | Path) -> Path:
        """A copy of a file the run depends on (its training reference) kept by content hash, so
        that editing or replacing the original later never changes what the run showed."""
        path = Path(path)
        folder = self.uploads_dir() / sha256_of(path)[:16]
        folder.mkdir(exist_ok=True)
        kept = folder / path.name
        if not kept.exists():
            partial = kept.with_name(kept.name + ".partial")
            shutil.copyfile(path, partial)
            partial.replace(kept)
        return kept

    def keep_upload(self, name: str, data: bytes) -> Path:
        """An uploaded file kept as `uploads/<sha256 prefix>/<name>`: the same bytes land in the same
        place, and a different file of the same name never replaces one a run points at."""
        digest = hashlib.sha256(data).hexdigest()[:16]
        folder = self.uploads_dir() / digest
        folder.mkdir(exist_ok=True)
        path = folder / Path(name).name
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            partial.replace(path)
        return path

    def drift_table(self, run_id: str, choices: dict[str, tuple[str | None, float | None]]) -> pd.DataFrame:
        """The run's feature drift with a chosen test and/or threshold for some columns."""
        manifest = self.store.manifest(run_id)
        reference = reference_for(manifest)
        if reference is None:
            raise RunError("This run names no training reference, so drift cannot be measured.")
        return feature_drift(reference, self.store.requests(run_id), manifest.numeric, manifest.categorical, choices)

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

    def gate(self, evidence: RunEvidence, policy: GatePolicy | None = None) -> GateVerdict:
        """The run's evidence judged under the policy (by default the model's, see `policy_for`)."""
        policy = policy or self.policy_for(evidence.manifest.model_name)
        return evaluate_gate(evidence, policy, self.signatures(evidence.manifest), self.run_scans(evidence.manifest))

    def run_scans(self, manifest: RunManifest) -> list[ArtifactScan] | None:
        """The security scans of a run's two model versions, or None when their files cannot be read."""
        refs = {role: ModelRef(entry.name, entry.version)
                for role, entry in ((CHAMPION, manifest.champion), (CHALLENGER, manifest.challenger))}
        try:
            return list(self.scan_models(refs).values())
        except StagingError:
            return None

    def report(self, evidence: RunEvidence, policy: GatePolicy | None = None,
               folder: Path | None = None) -> ReportFiles:
        """The run's offline report and evidence file (in its run folder unless `folder` is given)."""
        verdict = self.gate(evidence, policy)
        target = folder or self.store.folder(evidence.manifest.run_id)
        return write_report(Path(target), "report", evidence, verdict, self.signatures(evidence.manifest))

    @property
    def team_mode(self) -> bool:
        """Whether sign-offs are made as MLflow users (a shared tracking server with basic auth)."""
        return self.settings.team_mode

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

    def promote(self, evidence: RunEvidence, reviewer: str, reason: str, confirmed: bool,
                override: bool = False, policy: GatePolicy | None = None,
                credentials: Credentials | None = None) -> dict:
        """Move `champion` to the run's challenger on the gate's verdict under `policy`. The decision
        report is written first and its SHA-256 sealed into the record; afterwards it is logged as an
        artifact of the challenger's version in the registry (a failure there is returned as
        `report_error`, the promotion stands). In team mode `credentials` sign (see `_signer`)."""
        promotion.require_signoff(reviewer if not self.team_mode else "-", reason, confirmed)
        reviewer, registry = self._signer(reviewer, credentials)
        manifest = evidence.manifest
        verdict = self.gate(evidence, policy)
        record_id = promotion.new_record_id()
        decision = {"record": record_id, "action": "promote", "reviewer": reviewer.strip(), "reason": reason.strip(),
                    "override": override, "gate": verdict.status, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "moves": f"{manifest.model_name}@champion from v{manifest.champion.version} to "
                             f"v{manifest.challenger.version}"}
        files = write_report(self.store.folder(manifest.run_id) / "decisions", record_id, evidence, verdict,
                             self.signatures(manifest), decision)
        try:
            record = promotion.promote(self.home, verdict, evidence, reviewer, reason, confirmed, override,
                                       record_id=record_id, report=files.as_record(), registry=registry)
        except BaseException:
            files.html.unlink(missing_ok=True)
            files.json.unlink(missing_ok=True)
            raise
        challenger = ModelRef(manifest.challenger.name, manifest.challenger.version)
        try:
            uri = self.registry.log_report(challenger, [files.html, files.json], f"sandbox-reports/{manifest.run_id}")
            if uri:
                self.registry.tag_version(challenger, f"sandbox.report.{manifest.run_id}", uri)
            return {**record, "report_uri": uri}
        except RegistryError as exc:
            return {**record, "report_error": exc.message}

    def rollback(self, model_name: str, reviewer: str, reason: str, confirmed: bool = True,
                 credentials: Credentials | None = None) -> dict:
        promotion.require_signoff(reviewer if not self.team_mode else "-", reason, confirmed)
        reviewer, registry = self._signer(reviewer, credentials)
        return promotion.rollback(self.home, model_name, reviewer, reason, confirmed, registry=registry)

    def audit(self, model_name: str | None = None) -> list[dict]:
        """The audit records (of one model, when named), oldest first."""
        return AuditChain(self.home).records(model_name)

    def verify_audit(self) -> Verification:
        """The audit chain checked in the file and against the registry's anchors."""
        return AuditChain(self.home).verify(self.registry.audit_anchors)

    def history(self, model_name: str) -> tuple[list[ChampionPeriod], str | None]:
        """Who was champion when (from the chain), and a sentence if the registry disagrees."""
        periods = champion_history(self.audit(model_name))
        return periods, consistency(periods, self.aliases(model_name).get(CHAMPION))

    def last_promotion(self, model_name: str) -> dict | None:
        return promotion.last_promotion(self.home, model_name)

    def close(self) -> None:
        self.cancel_replay()
        if self.replay is not None:
            self.replay.wait(10)
        self.stop_servers()


__all__ = ["Sandbox", "TrafficSelection", "select_requests"]
