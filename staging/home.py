"""Where the sandbox keeps its state: one folder, the sandbox home.

Everything lives below it: the MLflow store (sqlite registry and artifacts), runs, server
logs and records, and the audit log. The default is `.staging/` in the working directory;
`STAGING_HOME` overrides it, and `STAGING_TRACKING_URI` points the registry at an MLflow
tracking server instead (as docker compose does); both are read through `Settings`. MLflow's
tracking URI is always set explicitly from here, so no process ever falls back to an
`mlflow.db` in whatever directory it happens to run in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError
from .settings import HOME_ENV, Settings


@dataclass(frozen=True)
class SandboxHome:
    """Paths below one sandbox home; `ensure()` creates them."""

    root: Path
    remote_tracking_uri: str | None = None  # an MLflow tracking server instead of the home's sqlite store
    wheel_cache: Path | None = None  # wheelhouses shared by the machine's homes; None: inside this home

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @classmethod
    def from_env(cls, explicit: str | os.PathLike | None = None, settings: Settings | None = None) -> SandboxHome:
        settings = settings or Settings.from_env()
        raw = explicit or settings.home
        cache = Path(settings.wheel_cache).expanduser() if settings.wheel_cache else None
        return cls(Path(raw).expanduser().resolve(), settings.tracking_uri, cache)

    @classmethod
    def with_runs_dir(cls, runs_dir: Path) -> SandboxHome:
        """The home whose `runs_dir` this is (the inverse of `runs_dir`)."""
        home = cls(Path(runs_dir).resolve().parent)
        if home.runs_dir != Path(runs_dir).resolve():
            raise ConfigurationError(f"{runs_dir} is not the runs folder of a sandbox home.",
                                     hint="Pass a run folder made by the sandbox (HOME/runs/RUN_ID).")
        return home

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def artifacts_dir(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def servers_dir(self) -> Path:
        return self.root / "servers"

    @property
    def wheelhouses_dir(self) -> Path:
        """Wheels downloaded on the host for model images, one folder per requirement set."""
        return self.wheel_cache or self.root / "wheelhouses"

    @property
    def images_dir(self) -> Path:
        """Build contexts of model images, one folder per version (`<name>-v<version>`)."""
        return self.root / "images"

    @property
    def uploads_dir(self) -> Path:
        """Files uploaded in the app and the references runs rest on, kept by content hash."""
        return self.root / "uploads"

    @property
    def policies_dir(self) -> Path:
        """Promotion policies named after their model (`<model name>.toml`)."""
        return self.root / "policies"

    @property
    def capacity_dir(self) -> Path:
        """Capacity runs' results, one JSON file each (`staging/capacity/store.py`)."""
        return self.root / "capacity"

    @property
    def watch_dir(self) -> Path:
        """The watcher's queue, the deliveries it accepted and its verdicts (`staging/watch/`)."""
        return self.root / "watch"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit" / "promotions.jsonl"

    @property
    def tracking_uri(self) -> str:
        return self.remote_tracking_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def remote_tracking(self) -> bool:
        return not self.tracking_uri.startswith("sqlite:")

    def ensure(self) -> SandboxHome:
        try:
            for folder in (self.artifacts_dir, self.runs_dir, self.logs_dir, self.servers_dir,
                           self.audit_log.parent):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"The sandbox home {self.root} cannot be created ({exc.strerror}).",
                hint=f"Set {HOME_ENV} to a folder you can write to.",
            ) from exc
        return self

    def mlflow_env(self) -> dict[str, str]:
        """Environment for child processes (model servers) that must see the same store."""
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_REGISTRY_URI": self.tracking_uri}
