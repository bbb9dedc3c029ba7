"""Each model's own Python environment for the process backend: a virtual environment per
requirement set, made from the host-side wheelhouse with no index, cached under the shared
wheel cache by the hash of its requirements.

A model's `requirements.txt` (what MLflow recorded when it was logged: scikit-learn, XGBoost,
LightGBM… at their versions) plus the scoring server's (`mlflow-skinny`, or MLServer's) is
installed into `HOME/../model-venvs/<hash>`; the model server runs from that venv's
interpreter, so model code never runs in the app's environment and one model's packages never
meet the other's. Champion and challenger environments are made before either server starts,
and a requirement that cannot be installed is named for both models at once
(`prepare_environments`).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ModelEnvironmentError
from ..home import SandboxHome
from .wheels import WheelDownloadError, failing_requirement, wheelhouse

Log = Callable[[str], None]


def environment_folder(home: SandboxHome, requirements: list[str], kind: str) -> Path:
    key = hashlib.sha256("\n".join(sorted(set(requirements))).encode()).hexdigest()[:16]
    return home.wheelhouses_dir.parent / f"{kind}-venvs" / key


def requirements_venv(home: SandboxHome, requirements: list[str], kind: str = "model",
                      log: Log = lambda line: None) -> Path:
    """A virtual environment with `requirements`, made once per requirement set from the
    wheelhouse (no index), under a lock; returns its folder."""
    wanted = sorted(set(requirements))
    folder = environment_folder(home, wanted, kind)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / ".complete").exists():
            return folder
        wheels = wheelhouse(home, wanted, log)
        shutil.rmtree(folder, ignore_errors=True)
        log(f"making the {kind} environment from {wheels} (once per requirement set)…")
        steps = [[sys.executable, "-m", "venv", str(folder)],
                 [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index", "--find-links",
                  str(wheels), "-r", str(wheels / "requirements.txt")]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                output = done.stdout + done.stderr
                raise ModelEnvironmentError(f"The {kind} environment could not be made: {failing_requirement(output)}.",
                                            hint="Every requirement needs a wheel for this Python (3.11, Linux x86-64).",
                                            detail=output[-3000:])
        (folder / ".complete").touch()
    return folder


def prepare_environments(home: SandboxHome, wanted: dict[str, tuple[str, list[str]]], log: Log) -> dict[str, Path]:
    """role -> its environment, made in parallel (role -> (kind, requirements)); when any cannot
    be made, one error names every model's failing requirement."""
    def make(role: str) -> Path:
        kind, requirements = wanted[role]
        return requirements_venv(home, requirements, kind, lambda line: log(f"{role}: {line}"))

    with ThreadPoolExecutor(max_workers=max(len(wanted), 1)) as pool:
        futures = {role: pool.submit(make, role) for role in wanted}
        made, failures, details = {}, [], []
        for role, future in futures.items():
            try:
                made[role] = future.result()
            except (ModelEnvironmentError, WheelDownloadError) as exc:
                failures.append(f"the {role}'s: {exc.message.rstrip('.')}")
                details.append(f"--- {role} ---\n{exc.detail[-1500:]}")
    if failures:
        raise ModelEnvironmentError("The models' own environments could not be made: " + "; ".join(failures) + ".",
                                    hint="Nothing was started. Fix the model's requirements.txt (register a new "
                                         "version), or make the wheel reachable from this machine's package index.",
                                    detail="\n".join(details))
    return made
