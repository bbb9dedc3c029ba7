"""A model version's files, downloaded once from the registry into the home's image folder.

Every part that must read a model's files without loading it (the artifact scan, a model
image's build context, the process backend's server) asks here, so the download happens once
per version and the files land in one place: `HOME/images/<name>-v<version>/model`.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

import mlflow

from ..errors import RegistryError, map_exceptions
from ..home import SandboxHome
from ..refs import ModelRef
from .client import MLFLOW_ERRORS, configure_mlflow

MLFLOW_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(MLFLOW_ERRORS)


def _quiet(message: str) -> None:
    """A log that says nothing."""


def model_files(home: SandboxHome, ref: ModelRef, log: Callable[[str], None] = _quiet) -> Path:
    """The folder of one model version's image build, with the model's files in `model/`. The
    files are downloaded once, under a lock, into a partial folder renamed into place: a scan or a
    build in another thread sees all of them or none."""
    configure_mlflow(home)
    context = home.images_dir / f"{ref.name}-v{ref.version}"
    model_dir = context / "model"
    if (model_dir / "MLmodel").exists():
        return context
    context.parent.mkdir(parents=True, exist_ok=True)
    with open(context.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (model_dir / "MLmodel").exists():  # made by another thread or process meanwhile
            return context
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        log(f"copying the model files of {ref.uri}…")
        partial = context / "model.partial"
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=str(partial))
        except MLFLOW_EXCEPTIONS as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                raise RegistryError(f"Version {ref.version} of {ref.name} is no longer in the registry.",
                                    hint="The run's evidence still stands; a promotion needs the version "
                                         "registered again.") from exc
            with map_exceptions(MLFLOW_ERRORS, f"The files of {ref.uri} could not be read from the registry (were "
                                               "its artifacts moved?)"):
                raise
        partial.rename(model_dir)
    return context
