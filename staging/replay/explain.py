"""An explanation checked, started in its worker process, followed and cancelled.

`Explanations.check` refuses, before anything is sent, a run that cannot be explained (not a
shadow run, no request both models answered, servers that no longer serve the run's versions)
and settings out of range; `start` writes the request and starts
`python -m staging.replay.explain_worker RUN_FOLDER`. The explanation is stored with the run and
read back by `staging.explain.result.load_explanation`; it is never recomputed unless asked.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..backends.pool import ServerPool
from ..errors import RunError
from ..explain.result import Explanation, explanation_folder, load_explanation, read_progress, write_meta
from ..explain.settings import ExplainSettings
from ..roles import CHALLENGER, CHAMPION
from ..runs import RunManifest, RunStore
from ..runs.folder import EXPLANATION_LOG
from .explain_worker import REQUEST
from .handle import PACKAGE_PARENT

ROLES = (CHAMPION, CHALLENGER)


@dataclass(frozen=True)
class PreparedExplanation:
    run_id: str
    folder: Path
    settings: ExplainSettings
    endpoints: dict  # role -> {"url", "backend"}


class ExplainHandle:
    """An explanation running in its worker process."""

    def __init__(self, run_id: str, folder: Path, process: subprocess.Popen) -> None:
        self.run_id, self.folder, self.process = run_id, folder, process

    @property
    def done(self) -> bool:
        return self.process.poll() is not None

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    @property
    def progress(self) -> tuple[int, int]:
        """(rows done by both models, rows to explain)."""
        progress = read_progress(self.folder)
        done = progress.get("done") or {}
        return (min(done.values()) if len(done) == len(ROLES) else 0), int(progress.get("total", 0))

    def log(self) -> str:
        path = explanation_folder(self.folder) / EXPLANATION_LOG
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def result(self) -> Explanation | None:
        return load_explanation(self.folder)


class Explanations:
    """The app's explanations: at most one running at a time."""

    def __init__(self, store: RunStore, pool: ServerPool) -> None:
        self.store, self.pool = store, pool
        self.current: ExplainHandle | None = None

    def check(self, run_id: str, settings: ExplainSettings) -> PreparedExplanation:
        manifest = self.store.manifest(run_id)
        if manifest.mode != "shadow":
            raise RunError(f"Run {run_id} was a{'n A/B' if manifest.mode == 'ab' else ' canary'} run: each request met "
                           "one model, so the two cannot be explained on the same rows.",
                           hint="Explain a shadow run, where both models answered every request.")
        if manifest.status == "running":
            raise RunError(f"Run {run_id} is still replaying.", hint="Explain it when the replay has ended.")
        if not manifest.summary.answers:
            raise RunError(f"Run {run_id} has no answers to explain.", hint="Replay traffic first.")
        if self.current is not None and not self.current.done:
            raise RunError(f"An explanation of run {self.current.run_id} is running.",
                           hint="Wait for it, or cancel it, before starting another.")
        return PreparedExplanation(run_id, self.store.folder(run_id), settings, self.endpoints_for(manifest))

    def endpoints_for(self, manifest: RunManifest) -> dict:
        """The live endpoints that serve the run's versions: the app's servers, or a cluster's URLs."""
        if manifest.backend == "endpoint":
            return {role: {"url": manifest.models[role].endpoint, "backend": "endpoint"} for role in ROLES}
        servers = self.pool.servers
        if not self.pool.serve_versions(manifest):
            versions = ", ".join(f"{role} {manifest.models[role].uri}" for role in ROLES)
            raise RunError(f"An explanation asks the run's own models ({versions}), and their servers are not running.",
                           hint="Start the servers for these versions (Servers page), or use `python -m staging "
                                "explain`, which starts them.")
        return {role: {"url": servers[role].endpoint.url, "backend": servers[role].backend} for role in ROLES}

    def start(self, prepared: PreparedExplanation) -> ExplainHandle:
        folder = explanation_folder(prepared.folder)
        folder.mkdir(exist_ok=True)
        for stale in folder.iterdir():
            stale.unlink()
        (folder / REQUEST).write_text(json.dumps({"settings": prepared.settings.as_dict(),
                                                  "endpoints": prepared.endpoints}))
        write_meta(prepared.folder, {"status": "running", "reason": "", "settings": prepared.settings.as_dict(),
                                     "features": [], "started_at": time.time()})
        with open(folder / EXPLANATION_LOG, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "staging.replay.explain_worker",
                                        str(prepared.folder.resolve())], cwd=PACKAGE_PARENT, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.current = ExplainHandle(prepared.run_id, prepared.folder, process)
        return self.current

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()

    def stored(self, run_id: str) -> Explanation | None:
        return load_explanation(self.store.folder(run_id))
