"""A replay made ready before anything slow starts, then begun: every input read and checked once.

    prepare  -> PreparedReplay (traffic validated against the model, the selection applied, the
                schedule checked, labels and reference checked)      no server needed
    begin    -> the run written (manifest, requests, labels) and its worker started

The command line prepares before it starts any server and hands the same `PreparedReplay` to
`begin`; the Replay page validates the traffic when it is chosen and hands that validation to
`prepare`. So a file is read and validated once per replay, whatever the path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..analytics.drift_samples import reference_profile
from ..analytics.text import looks_like_text
from ..backends.pool import ServerPool
from ..errors import BackendError, MissingSignature, RegistryError, RunError, TrafficError
from ..files import atomic_write, keep_by_content
from ..home import SandboxHome
from ..registry.client import Registry
from ..registry.model_files import model_files
from ..registry.scenarios import SCENARIOS_BY_MODEL, Scenario
from ..registry.task import TAG as TASK_TAG
from ..registry.task import TaskReading, model_task, pair_task, read_mlmodel
from ..roles import CHAMPION, REPLICA
from ..runs import ModelEntry, RunManifest, RunStore, SelectionRecord, TrafficRecord
from ..runs.folder import LABELS, RESOURCES
from ..runs.settings import ReplaySettings
from ..tables import sha256_of
from ..traffic import NUMERIC_KINDS, ValidatedTraffic, load_and_validate, out_of_range, specs_from_signature
from ..traffic.labels import CheckedLabels, check_labels, join_labels
from ..traffic.remote import Fetched, fetch, is_remote
from ..traffic.selection import TrafficSelection, select_requests
from ..traffic.validation import UNREADABLE, integer_gap_warnings, load_traffic, read_error, specs_from_frame
from .handle import ReplayHandle, start_replay
from .plan import SPREAD_NOTE, send_offsets, whole_second_ties
from .resources import record_resources

KEPT_COLUMNS = ("_event_id",)  # not sent to the model, but kept: SageMaker ground truth joins on it


@dataclass(frozen=True)
class PreparedReplay:
    """Everything a replay rests on, checked: what `Replays.begin` turns into a run."""

    model_name: str
    traffic_path: Path
    validated: ValidatedTraffic
    requests: pd.DataFrame  # the selection, in recorded order
    selection: TrafficSelection
    settings: ReplaySettings
    labels: CheckedLabels | None
    labels_path: str | None
    reference_path: str | None
    scenario: Scenario | None
    task: TaskReading = TaskReading("unknown", "")
    label_column: str | None = None  # the outcome's column, named by the user (the reference's, for estimates)
    remote: dict | None = None  # input -> what was read from object storage (`Fetched.as_record`)


class Replays:
    """The replays of one sandbox: validating traffic, preparing, beginning, the one in progress."""

    def __init__(self, home: SandboxHome, registry: Registry, store: RunStore, pool: ServerPool) -> None:
        self.home, self.registry, self.store, self.pool = home, registry, store, pool
        self.current: ReplayHandle | None = None

    def validate_traffic(self, model_name: str, path: str | Path, keep: tuple[str, ...] = KEPT_COLUMNS,
                         reference_path: str | None = None, sample_rows: int | None = None,
                         fetched: Fetched | None = None) -> ValidatedTraffic:
        """The traffic checked against the champion's signature, with the values that fall outside
        the training reference (the scenario's, or `reference_path`) counted in the report. A URL
        is fetched first, unless `fetched` already holds its copy."""
        if fetched is None and is_remote(path):
            fetched = self.localize(path)
        path = fetched.path if fetched is not None else path
        if is_remote(reference_path):
            reference_path = str(self.localize(reference_path).path)
        champion = self.registry.resolve(model_name, CHAMPION)
        scenario = SCENARIOS_BY_MODEL.get(model_name)
        reference = reference_path or (str(scenario.file("train")) if scenario else None)
        checked_against = ""
        try:
            specs = specs_from_signature(self.registry.signature(champion))
        except MissingSignature:
            specs, checked_against = inputs_without_signature(path, reference)
        except RegistryError:
            from_metadata = self.pool.v2_inputs()  # no MLflow signature: a V2 champion's metadata says what it takes
            if from_metadata is None:
                raise
            specs = from_metadata
        validated = load_and_validate(path, specs, sample_rows=sample_rows, source=f"traffic file {Path(path).name}",
                                      keep_columns=keep,
                                      id_column=scenario.request_id_column if scenario else None,
                                      time_column=scenario.timestamp_column if scenario else None)
        read_from = [f"Read from {fetched.url}: {fetched.note}."] if fetched is not None and fetched.note else []
        validated = replace(validated, report=replace(validated.report, checked_against=checked_against,
                                                      warnings=[*integer_gap_warnings(validated.requests, specs),
                                                                *read_from]))
        if reference and Path(reference).exists():
            numeric = tuple(s.name for s in specs if s.kind in NUMERIC_KINDS)
            text = text_columns(validated.requests, validated.features)  # every review is new: not "out of range"
            others = tuple(s.name for s in specs if s.name not in numeric and s.name not in text)
            try:
                profile = reference_profile(reference, numeric, others)
            except (ValueError, KeyError, OSError):  # a reference without every input: no range to report
                return validated
            validated = replace(validated, report=replace(validated.report,
                                                          out_of_range=out_of_range(validated.requests, profile)))
        return validated

    def prepare(self, model_name: str, traffic_path: str | Path, selection: TrafficSelection = TrafficSelection(),
                settings: ReplaySettings = ReplaySettings(), labels_path: str | None = None,
                reference_path: str | None = None, label_column: str | None = None,
                validated: ValidatedTraffic | None = None,
                canary_min_answers: Callable[[], int] | None = None, task: str | None = None,
                progress: Callable[[str], None] | None = None) -> PreparedReplay:
        """Every input of a replay read and checked once, before anything slow starts: the traffic
        (unless `validated` already holds it), the selection and schedule, the labels, the reference.
        Any of them may be a URL (`s3://…`): it is fetched into the home first (`traffic.remote`),
        saying how much it has read through `progress`."""
        window = _window(selection)
        fetched = {name: self.localize(path, window if name == "traffic" else None,
                                       None if progress is None else lambda said, name=name: progress(f"{name}: {said}"))
                   for name, path in (("traffic", traffic_path), ("labels", labels_path),
                                      ("reference", reference_path)) if is_remote(path)}
        traffic_path = fetched["traffic"].path if "traffic" in fetched else traffic_path
        labels_path = str(fetched["labels"].path) if "labels" in fetched else labels_path
        reference_path = str(fetched["reference"].path) if "reference" in fetched else reference_path
        scenario = SCENARIOS_BY_MODEL.get(model_name)
        labels_path = labels_path or (str(scenario.file("labels")) if scenario else None)
        reference_path = reference_path or (str(scenario.file("train")) if scenario else None)
        labels = check_labels(labels_path, scenario.target if scenario else None, label_column) if labels_path else None
        keep = KEPT_COLUMNS + ((settings.split_key,) if settings.split_key else ())
        if validated is None or (settings.split_key and settings.split_key not in validated.requests.columns):
            validated = self.validate_traffic(model_name, traffic_path, keep, reference_path,
                                              selection.sampled_while_reading, fetched.get("traffic"))
        if settings.split_key and settings.split_key not in validated.requests.columns:
            raise TrafficError(f"The A/B split key '{settings.split_key}' is not a column of the traffic file.",
                               hint="Choose one of its columns (a customer id, say), or leave the key empty to "
                                    "split by request id.")
        if validated.requests.empty:
            reasons = "; ".join(f"{reason} ({count:,})" for reason, count in list(validated.report.reasons.items())[:4])
            raise TrafficError(f"Every one of the {validated.report.rows_read:,} rows of {Path(traffic_path).name} was "
                               f"quarantined: {reasons}.",
                               hint="Fix the rows the reasons name (the Replay page lists them), or choose the file "
                                    "recorded for this model.")
        requests = select_requests(validated.requests, selection)
        if requests.empty:
            raise TrafficError("No request falls inside the chosen time window.", hint="Widen the window or clear it.")
        # a timing the traffic cannot support (as recorded, without timestamps) is refused here
        send_offsets(settings.timing, len(requests), requests.get("timestamp"), settings.speed, settings.rate_per_s)
        if settings.timing == "recorded" and whole_second_ties(requests.get("timestamp")):  # the report says so
            validated = replace(validated, report=replace(validated.report,
                                                          warnings=[*validated.report.warnings, SPREAD_NOTE]))
        if settings.mode == "canary" and settings.canary_min_answers is None and canary_min_answers is not None:
            settings = replace(settings, canary_min_answers=canary_min_answers())
        check_reference(reference_path, validated.features)
        outcome = labels.table[labels.target] if labels is not None else None
        reading = (TaskReading(scenario.task, "the demo scenario") if scenario and not task else
                   pair_task(self.model_tasks(model_name, outcome), task))
        return PreparedReplay(model_name, Path(traffic_path), validated, requests, selection, settings, labels,
                              labels_path, reference_path, scenario, reading, label_column,
                              {name: one.as_record() for name, one in fetched.items()} or None)

    def localize(self, url: str | Path | None, window=None, progress=None) -> Fetched:
        """An object-storage URL's object (or every object under its prefix) fetched into the home."""
        return fetch(str(url), self.home.uploads_dir / "remote", window, progress)

    def model_tasks(self, model_name: str, outcome: pd.Series | None) -> dict[str, TaskReading]:
        """Each model's task as MLflow records it (tags, class, signature) and the labels say."""
        refs = self.pool.resolve_pair(model_name)
        try:
            scans = self.pool.scans.scan(self.home, refs)
        except Exception:  # noqa: BLE001 - files unreadable here (an endpoint's model elsewhere): tags and labels still say
            scans = {}
        readings = {}
        for role, ref in refs.items():
            scan = scans.get(role)
            mlmodel = read_mlmodel(model_files(self.home, ref) / "model") if scan is not None else {}
            tags = [(f"version {ref.version}", self.registry.version_tags(ref).get(TASK_TAG)),
                    (f"the registered model {ref.name}", self.registry.model_tags(ref.name).get(TASK_TAG))]
            readings[role] = model_task(mlmodel, list(scan.imports) if scan else [], tags, outcome)
        return readings

    def begin(self, prepared: PreparedReplay) -> ReplayHandle:
        """The prepared replay written as a run and its worker started, on the running servers."""
        if self.current is not None and not self.current.done:
            raise RunError("A replay is already running.", hint="Wait for it to finish or cancel it first.")
        if not self.pool.serve(prepared.model_name):
            raise BackendError(f"The model servers for '{prepared.model_name}' are not running (or serve other "
                               "versions).", hint="Start them on the Environment page first.")
        dead = self.pool.stopped()
        if dead:
            raise BackendError(f"The {' and '.join(dead)} server has stopped.", hint="Restart it on the Environment page.")
        self.pool.check_v2_metadata(prepared.validated.features)
        manifest = self._manifest(prepared)
        if manifest.reference_path:  # the run's own copy, by content: the original may change later
            manifest = manifest.replace(reference_path=str(self.keep(manifest.reference_path)))
        folder = self.store.create(manifest, prepared.requests, prepared.validated.quarantine)
        if prepared.labels:
            self._keep_labels(folder.name, prepared.labels, prepared.requests)
        targets = len(self.pool.servers) if prepared.settings.mode == "shadow" else 1  # canary and A/B: one model each
        self.current = start_replay(folder, total=len(prepared.requests), targets=targets)
        record_resources({role: partial(self.pool.backend.usage, server) for role, server in self.pool.servers.items()},
                         folder / RESOURCES, self.current.process)
        return self.current

    def keep(self, source: str | Path | bytes, name: str | None = None) -> Path:
        """A copy of a file a run depends on (an upload, a training reference) kept by content hash,
        so that editing or replacing the original later never changes what the run showed."""
        name = name or Path(str(source)).name
        return keep_by_content(self.home.uploads_dir, name, source if isinstance(source, bytes) else Path(source))

    def attach_labels(self, run_id: str, labels_path: str | Path, label_column: str | None = None) -> dict:
        """Labels that arrived after the run, checked and joined to its requests and kept by the run
        (recorded in its manifest); returns what matched."""
        manifest = self.store.manifest(run_id)
        if manifest.status in ("running", "starting"):
            raise RunError("Labels can be attached once the run has ended.", hint="Wait for it to finish.")
        if is_remote(labels_path):
            labels_path = self.localize(labels_path).path
        labels = check_labels(labels_path, manifest.target, label_column)
        facts = self._keep_labels(run_id, labels, self.store.requests(run_id))
        if not facts["matched"]:
            raise TrafficError(f"None of the {len(labels.table):,} labels in {Path(labels_path).name} names a request "
                               f"of run {run_id}.", hint="Check that the file's request ids are the traffic's.")
        return facts

    def _keep_labels(self, run_id: str, labels: CheckedLabels, requests: pd.DataFrame) -> dict:
        """The labels joined to the run's requests, kept in its folder; the source's hash and counts
        in its manifest."""
        joined, facts = join_labels(labels, requests)
        path = atomic_write(self.store.folder(run_id) / LABELS, lambda partial: joined.to_parquet(partial, index=False))
        self.store.update_manifest(run_id, target=labels.target, labels_path=str(path), labels_source=facts)
        return facts

    def _manifest(self, prepared: PreparedReplay) -> RunManifest:
        validated, scenario, selection = prepared.validated, prepared.scenario, prepared.selection
        numeric = [c for c in validated.features if pd.api.types.is_numeric_dtype(validated.requests[c])]
        text = () if scenario else text_columns(validated.requests, validated.features)
        report = validated.report
        return RunManifest(
            run_id="", model_name=prepared.model_name,
            models={role: ModelEntry(name=server.model.name, version=server.model.version,
                                     alias=CHAMPION if role == REPLICA else role, uri=server.model.uri,
                                     endpoint=server.endpoint.url, protocol=server.endpoint.protocol,
                                     runtime=server.runtime, checked=server.checked)
                    for role, server in self.pool.servers.items()},
            backend=self.pool.backend.name, features=tuple(validated.features),
            task=prepared.task.task, task_source=prepared.task.source,
            target=scenario.target if scenario else prepared.label_column,
            numeric=tuple(scenario.numeric) if scenario else tuple(numeric),
            categorical=(tuple(scenario.categorical) if scenario else
                         tuple(c for c in validated.features if c not in numeric and c not in text)),
            text=text,
            traffic=TrafficRecord(path=str(prepared.traffic_path.resolve()), sha256=sha256_of(prepared.traffic_path),
                                  rows_read=report.rows_read, rows_valid=report.rows_valid,
                                  rows_quarantined=report.rows_quarantined, validation=report.summary(),
                                  replayed=len(prepared.requests), remote=prepared.remote),
            selection=SelectionRecord(sample_size=selection.sample_size, seed=selection.seed,
                                      sample_percent=selection.sample_percent,
                                      start=str(selection.start) if selection.start is not None else None,
                                      end=str(selection.end) if selection.end is not None else None),
            settings=prepared.settings, labels_path=prepared.labels_path, reference_path=prepared.reference_path,
            trusted_code=tuple(sorted(uri for uri in self.pool.trusted
                                      if uri in {server.model.uri for server in self.pool.servers.values()})),
        )


def text_columns(requests: pd.DataFrame, features) -> tuple[str, ...]:
    """The inputs that hold free text (long, mostly distinct strings), not categories."""
    return tuple(c for c in features if c in requests and looks_like_text(requests[c]))


def inputs_without_signature(traffic_path: str | Path, reference_path: str | None) -> tuple[list, str]:
    """A model logged without a signature: its inputs are the training reference's columns that
    the traffic holds, or (with no reference) the traffic's own columns; and what was used, in words."""
    head = read_head(Path(traffic_path))
    meta = {"request_id", "timestamp", *KEPT_COLUMNS}
    if reference_path and Path(reference_path).exists():
        reference = read_head(Path(reference_path))
        common = [c for c in reference.columns if c in head.columns and c not in meta]
        if common:
            return (specs_from_frame(reference[common]),
                    f"the training reference {Path(reference_path).name}'s columns that the traffic holds "
                    f"({', '.join(common)}), as the model was logged without a signature")
    columns = [c for c in head.columns if c not in meta]
    if not columns:
        raise MissingSignature("The model was logged without a signature, and neither a training reference nor the "
                               "traffic says what its inputs are.", hint="Give --reference with its input columns.")
    return (specs_from_frame(head[columns]),
            f"the traffic's own columns ({', '.join(columns)}), as the model was logged without a signature and no "
            "training reference was given: every column is sent")


def read_head(path: Path, rows: int = 1000) -> pd.DataFrame:
    """The first rows of a table, read without reading the rest (a JSON Lines log is read whole)."""
    try:
        if path.suffix == ".parquet":
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
            return batch.to_pandas() if batch is not None else pd.DataFrame()
        if path.suffix == ".csv":
            return pd.read_csv(path, nrows=rows)
    except UNREADABLE as exc:
        raise read_error(path, path.suffix.lstrip("."), exc) from exc
    return load_traffic(path).head(rows)


def _window(selection: TrafficSelection):
    """The selection's time window as UTC datetimes (both ends given), for listing a capture tree."""
    if selection.start is None or selection.end is None:
        return None
    start, end = (pd.Timestamp(moment) for moment in (selection.start, selection.end))
    start, end = (moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
                  for moment in (start, end))
    return start.to_pydatetime(), end.to_pydatetime()


def check_reference(reference_path: str | None, features) -> None:
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
