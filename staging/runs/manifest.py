"""The run as a value: `RunManifest`, what one replay run is, frozen and typed.

A run's `manifest.json` is this value's JSON (`to_json` / `from_json`), with a schema
version. Nothing outside `staging.runs` reads the manifest by string keys: every stage
(the sandbox that prepares a run, the worker that replays it, the evidence that analyses
it, the gate and the pages) passes this value and reads its fields.

Schema versions:
    1  (no `schema_version` key) the first round's manifests; read with the same keys
    2  the same fields, written with `schema_version`
    3  this one: `task_source` (where the task was read from), `trusted_code` (the model
       versions whose code a user trusted for this run) and `text` (free-text inputs); older
       manifests read with none of them
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RunError
from ..roles import CHALLENGER, CHAMPION
from .settings import ReplaySettings

SCHEMA_VERSION = 3
STATUSES = ("running", "finished", "cancelled", "failed", "degraded", "aborted")
UNFINISHED_OUTCOMES = ("degraded", "cancelled", "failed", "aborted")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a run: the exact registered version and where it answered."""

    name: str
    version: str
    alias: str | None
    uri: str
    endpoint: str
    protocol: str = "mlflow"  # the wire protocol it answered in: mlflow (scoring server) or v2 (Open Inference)
    runtime: str = ""  # what served it: mlflow models serve, mlserver, or "" when unknown (an external endpoint)
    checked: str = ""  # an endpoint elsewhere: how it was found to serve this version, or why it was not checked

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelEntry:
        return cls(name=str(data["name"]), version=str(data["version"]), alias=data.get("alias"),
                   uri=str(data.get("uri") or f"models:/{data['name']}/{data['version']}"),
                   endpoint=str(data.get("endpoint", "")), protocol=str(data.get("protocol") or "mlflow"),
                   runtime=str(data.get("runtime") or ""), checked=str(data.get("checked") or ""))


@dataclass(frozen=True)
class TrafficRecord:
    """The traffic file a run replayed, its hash and what validation made of it."""

    path: str
    sha256: str
    rows_read: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    validation: str = ""  # the validation report's summary sentence
    replayed: int = 0
    remote: dict[str, Any] | None = None  # read from object storage: {input: {url, objects (key, size, etag, time), note}}

    @property
    def name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SelectionRecord:
    """Which of the valid requests were replayed (see `sandbox.TrafficSelection`)."""

    sample_size: int | None = None
    seed: int = 0
    sample_percent: float | None = None
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """Counts written when the run ends, and a canary's step table."""

    requests: int = 0
    answers: int = 0
    errors: int = 0
    canary: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class RunManifest:
    """One replay run: which models, which traffic, how it was replayed, and how it ended."""

    run_id: str
    model_name: str
    models: Mapping[str, ModelEntry]
    backend: str
    features: tuple[str, ...]
    task: str  # classification, regression, or "unknown" (decided from the answers by the evidence)
    target: str | None
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]  # words with few values; free text is in `text`
    traffic: TrafficRecord
    selection: SelectionRecord = field(default_factory=SelectionRecord)
    settings: ReplaySettings = field(default_factory=ReplaySettings)
    labels_path: str | None = None  # the run's own copy (labels.parquet in its folder) once labels are attached
    reference_path: str | None = None
    labels_source: dict[str, Any] | None = None  # the file the labels came from: path, sha256, matched, unmatched
    status: str = "running"
    end_reason: str = ""
    started_at: float = 0.0
    ended_at: float | None = None
    owner_pid: int | None = None
    code_version: str = "unknown"
    rows: int | None = None
    summary: RunSummary = field(default_factory=RunSummary)
    task_source: str = ""  # what said the task: the user, a tag, the model's class, its signature, the labels
    trusted_code: tuple[str, ...] = ()  # models:/NAME/VERSION whose own code the user trusted for this run
    text: tuple[str, ...] = ()  # free-text inputs (judged for drift by their descriptors, never as categories)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RunError(f"Run {self.run_id} has the unknown status {self.status!r}.",
                           hint=f"A run is one of: {', '.join(STATUSES)}.")

    # -- reading --------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def split(self) -> bool:
        """Canary and A/B runs: each request met one model, so there are no pairs."""
        return self.mode != "shadow"

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def champion(self) -> ModelEntry:
        return self.models[CHAMPION]

    @property
    def challenger(self) -> ModelEntry:
        return self.models[CHALLENGER]

    def version(self, role: str) -> str:
        return self.models[role].version

    def replace(self, **changes: Any) -> RunManifest:
        return dataclasses.replace(self, **changes)

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["settings"] = self.settings.as_dict()
        data["features"], data["numeric"], data["categorical"] = (list(self.features), list(self.numeric),
                                                                  list(self.categorical))
        data["summary"]["canary"] = [dict(step) for step in self.summary.canary]
        data["trusted_code"], data["text"] = list(self.trusted_code), list(self.text)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunManifest:
        """A manifest as stored on disk, of this schema or an older one."""
        version = int(data.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise RunError(f"Run {data.get('run_id')} was written by a newer sandbox (schema {version}).",
                           hint="Open it with the version of the sandbox that wrote it, or upgrade this one.")
        try:
            traffic = data.get("traffic") or {}
            summary = data.get("summary") or {}
            return cls(
                run_id=str(data["run_id"]), model_name=str(data["model_name"]),
                models={role: ModelEntry.from_json(entry) for role, entry in data["models"].items()},
                backend=str(data.get("backend", "")), features=tuple(data["features"]),
                task=str(data.get("task", "classification")), target=data.get("target"),
                numeric=tuple(data.get("numeric", ())), categorical=tuple(data.get("categorical", ())),
                traffic=TrafficRecord(**{k: v for k, v in traffic.items()
                                         if k in TrafficRecord.__dataclass_fields__}),
                selection=SelectionRecord(**{k: v for k, v in (data.get("selection") or {}).items()
                                             if k in SelectionRecord.__dataclass_fields__}),
                settings=ReplaySettings.from_dict(data.get("settings") or {}),
                labels_path=data.get("labels_path"), reference_path=data.get("reference_path"),
                labels_source=data.get("labels_source"),
                status=str(data.get("status", "running")), end_reason=str(data.get("end_reason") or ""),
                started_at=float(data.get("started_at") or 0.0), ended_at=data.get("ended_at"),
                owner_pid=data.get("owner_pid"), code_version=str(data.get("code_version", "unknown")),
                rows=data.get("rows"),
                summary=RunSummary(requests=int(summary.get("requests", 0)), answers=int(summary.get("answers", 0)),
                                   errors=int(summary.get("errors", 0)),
                                   canary=tuple(summary.get("canary") or ())),
                task_source=str(data.get("task_source") or ""),
                trusted_code=tuple(data.get("trusted_code") or ()), text=tuple(data.get("text") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"The manifest of run {data.get('run_id', '?')} cannot be read ({exc!r}).",
                           hint="The run folder may be damaged; start a new replay.") from exc
