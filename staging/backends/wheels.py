"""Wheels for model servers, downloaded on the host: a model's pinned requirements with the
scoring server's, and the wheelhouse folder per requirement set that container images and
MLServer's environments install from with no index (kept in the cache every home shares)."""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow

from ..errors import ModelEnvironmentError
from ..home import SandboxHome

SERVER_REQUIREMENTS = [f"mlflow-skinny=={mlflow.__version__}"]
Log = Callable[[str], None]


class WheelDownloadError(ModelEnvironmentError):
    """A requirement has no wheel pip can download for this Python."""


def quiet(_: str) -> None:
    """A log that keeps nothing: the default where no one is listening."""
    return None


def model_requirements(model_dir: Path) -> list[str]:
    """The model's pinned requirements, with the scoring server's: full `mlflow` becomes
    `mlflow-skinny` (the scoring server needs no tracking server or UI: 510 MB, not 850)."""
    path = model_dir / "requirements.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    reqs = [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-"))]
    reqs = [r for r in reqs if not re.match(r"^mlflow(-skinny)?\b", r)]
    return reqs + SERVER_REQUIREMENTS


def failing_requirement(pip_output: str) -> str:
    """The requirement pip names as the one it could not find or build, in one phrase."""
    for pattern in (r"No matching distribution found for ([^\s]+)", r"Could not find a version that satisfies the "
                    r"requirement ([^\s]+)", r"ResolutionImpossible.*?(\S+==\S+)", r"Failed to build ([^\s]+)"):
        found = re.search(pattern, pip_output, flags=re.S)
        if found:
            return f"pip cannot install {found.group(1)}"
    lines = [line for line in pip_output.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "pip failed"


def wheelhouse(home: SandboxHome, requirements: list[str], log: Log = quiet) -> Path:
    """A folder of wheels for `requirements`, downloaded on the host once and reused."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:16]
    folder = home.wheelhouses_dir / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:  # champion and challenger start in parallel
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "requirements.txt").exists():
            _download_wheels(folder, requirements, log)
    return folder


def _download_wheels(folder: Path, requirements: list[str], log: Log) -> None:
    partial = folder.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "requirements.in").write_text("\n".join(requirements) + "\n")
    log(f"pip download of {len(requirements)} requirements into a wheelhouse…")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(partial),
                           "-r", str(partial / "requirements.in")], capture_output=True, text=True)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        raise WheelDownloadError(f"The model's requirements could not be downloaded as wheels: "
                                 f"{failing_requirement(output)}.",
                                 hint="Check the model's requirements.txt: every package needs a wheel for Linux "
                                      "x86-64, Python 3.11.", detail=output[-3000:])
    (partial / "requirements.in").rename(partial / "requirements.txt")
    partial.rename(folder)


