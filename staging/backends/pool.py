"""The running model servers of one app (or command): which backend starts them, which are up,
and what each serves.

`ServerPool` owns the servers' lifecycle under one lock: switching backend stops them first;
starting a model's pair scans both versions' files before any backend loads them (the scan is
made once per version); a replica champion can join as the noise floor. It also answers what
the running servers publish: V2 metadata, as the inputs to check traffic against. On a
cluster's endpoints it checks that each URL serves the version named (`served`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import RegistryError, TrafficError
from ..home import SandboxHome
from ..refs import ModelRef
from ..registry.client import Registry
from ..registry.scan import ScanCache, refuse_dangerous, trusted_models
from ..roles import CHAMPION, REPLICA, ROLES
from ..serving.protocols import metadata_inputs, metadata_mismatch, mlflow_type
from ..settings import Settings
from ..traffic import FeatureSpec, specs_from_signature
from . import ProcessBackend, choose_backend
from .base import ManagedServer, start_pair
from .served import check_served


class ServerPool:
    """Champion, challenger (and a replica) as live servers on one backend."""

    def __init__(self, home: SandboxHome, settings: Settings, registry: Registry, scans: ScanCache) -> None:
        self.home, self.settings, self.registry, self.scans = home, settings, registry, scans
        self.servers: dict[str, ManagedServer] = {}
        self.trusted: frozenset[str] = frozenset()  # models:/NAME/VERSION whose own code the user trusted
        self.swept: list[str] = []
        self.pinned: dict[str, dict[str, str]] = {}  # model -> role -> version, in place of the alias
        self._lock = threading.Lock()

    def use_backend(self, name: str, endpoint_urls: dict[str, str] | None, allowed_hosts: tuple[str, ...]) -> str:
        """Switch backend (running servers are stopped first); returns the notice for the user."""
        with self._lock:
            self._stop_all()
            self.backend_name = name
            self.backend, self.backend_notice = choose_backend(name, self.home, endpoint_urls, settings=self.settings,
                                                               allowed_hosts=allowed_hosts)
            # a process server may outlive a switch to another backend: sweep those too (idempotent)
            self.swept += ProcessBackend(self.home).sweep_leftovers() + self.backend.sweep_leftovers()
        return self.backend_notice

    def processes_while_images_build(self, model_name: str) -> bool:
        """On containers whose runtime image for these models is not built yet (a minute or more the
        first time), serve on local processes now and build the images in the background, so that
        the demo's first minute is not spent on a build; the next start of the app uses containers.
        Whether it fell back. Never in team mode: a team's models always run fenced in containers."""
        if self.backend.name != "docker" or self.settings.team_mode:
            return False
        from .docker.images import ensure_model_image, runtime_ready

        backend: Any = self.backend
        refs = list(self.resolve_pair(model_name).values())
        if runtime_ready(backend.client, self.home, refs, backend.base_image):
            return False
        log_path = self.home.logs_dir / "model-images.log"
        build = lambda log: [ensure_model_image(backend.client, self.home, ref, log, base_image=backend.base_image)
                             for ref in refs]  # these models only: a build beside the demo slows it down
        threading.Thread(target=lambda: _logged(log_path, build), name="model-images", daemon=True).start()
        with self._lock:
            self._stop_all()
            self.backend = ProcessBackend(self.home)
            self.backend_notice = ("Models run as local processes for now: the containers' runtime image for these "
                                   "models is being built in the background (a minute or two, logged in "
                                   "logs/model-images.log); the next start of the app uses containers.")
        return True

    def pin(self, model_name: str, versions: dict[str, str] | None) -> None:
        """Serve and replay these versions of the model (role -> version) in place of what its
        aliases point at, until pinned again (None: the aliases again). The watcher pins the
        version a webhook named, so that a later alias move cannot change what it compares."""
        for version in (versions or {}).values():
            self.registry.require_version(model_name, version)
        if versions:
            self.pinned[model_name] = dict(versions)
        else:
            self.pinned.pop(model_name, None)

    def resolve_pair(self, model_name: str) -> dict[str, ModelRef]:
        pinned = self.pinned.get(model_name, {})
        aliases = self.registry.aliases(model_name) if pinned else {}
        return {role: ModelRef(model_name, pinned[role], alias=role if aliases.get(role) == pinned[role] else None)
                if role in pinned else self.registry.resolve(model_name, role) for role in ROLES}

    def start(self, model_name: str, progress=None, timeout: float = 120.0, replica: bool = False,
              runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = (),
              unchecked: str = "") -> dict[str, ManagedServer]:
        """Champion and challenger started in parallel, replacing any servers already running;
        with `replica`, a second champion too, whose differences from the first are the noise floor
        (on another runtime, say MLServer, that floor is the runtime's own effect). `runtimes`:
        role -> `mlflow` or `mlserver` ("*" for every role). `trust`: the roles or NAME/VERSION
        whose own code (a cloudpickled PythonModel) the user trusts, for these servers. On a cluster's
        endpoints, each URL is checked to serve the version named before anything is sent
        (`served`), unless `unchecked` gives the user's reason to skip it (kept on the run)."""
        refs = self.resolve_pair(model_name)
        trusted = trusted_models(trust, refs)
        if progress is not None:
            for role in refs:
                progress(role, "scanning the model's files for code that runs when it loads…")
        refuse_dangerous(list(self.scans.scan(self.home, refs).values()), trusted)  # before anything loads them
        self.trusted = frozenset(ref.uri for ref in refs.values() if ref.uri in trusted)
        if replica:
            refs[REPLICA] = refs[CHAMPION]
        with self._lock:
            self._stop_all()
            if progress is not None:
                self.backend.set_build_log(lambda line: progress("image", line))
            started = start_pair(self.backend, refs, progress, timeout, runtimes)
            if self.backend.name == "endpoint":
                started = {role: replace(server, checked=self._served(server, unchecked))
                           for role, server in started.items()}
            self.servers = started
        return self.servers

    def _served(self, server: ManagedServer, unchecked: str) -> str:
        """How an endpoint elsewhere was found to serve its model (refused when it serves another)."""
        if unchecked.strip():
            return f"not checked, by the user's choice: {unchecked.strip()}"
        try:
            specs = specs_from_signature(self.registry.signature(server.model))
        except RegistryError:  # no signature (or none readable here): the check says it cannot compare
            specs = None
        return check_served(server.endpoint, server.model, specs, self.home.servers_dir)

    def stop_all(self) -> None:
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        for server in self.servers.values():
            self.backend.stop(server)
        self.servers = {}

    def stop(self, role: str) -> None:
        with self._lock:
            server = self.servers.pop(role, None)
            if server is not None:
                self.backend.stop(server)

    def restart(self, role: str) -> None:
        with self._lock:
            self.servers[role] = self.backend.restart(self.servers[role])

    def status(self) -> list[dict[str, object]]:
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

    def log_tail(self, role: str, lines: int = 40) -> str:
        return self.backend.log_tail(self.servers[role], lines)

    def serve(self, model_name: str) -> bool:
        """Whether the running servers serve the versions the aliases point at now."""
        if not set(ROLES) <= set(self.servers):
            return False
        refs = self.resolve_pair(model_name)
        return all((self.servers[r].model.name, self.servers[r].model.version) == (refs[r].name, refs[r].version)
                   for r in ROLES)

    def serve_versions(self, manifest) -> bool:
        """Whether the running servers serve a run's own two versions (whatever the aliases say now)."""
        return all(role in self.servers and self.backend.is_running(self.servers[role])
                   and (self.servers[role].model.name, self.servers[role].model.version)
                   == (manifest.models[role].name, manifest.models[role].version) for role in ROLES)

    def stopped(self) -> list[str]:
        """The roles whose server is no longer running."""
        return [s.role for s in self.servers.values() if not self.backend.is_running(s)]

    def v2_inputs(self) -> list[FeatureSpec] | None:
        """The running champion's V2 metadata as the inputs to validate traffic against, if it has one."""
        server = self.servers.get(CHAMPION)
        metadata = server.endpoint.metadata() if server is not None else None
        inputs = metadata_inputs(metadata or {})
        # V2 metadata has no "optional": a missing value goes as null and the model's answer says
        # whether it takes it (MLServer's MLflow runtime does), rather than quarantining the row here
        return [FeatureSpec(t.name, mlflow_type(t.datatype), required=False) for t in inputs] if inputs else None

    def check_v2_metadata(self, features: list[str] | tuple[str, ...]) -> None:
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


def _logged(path: Path, work: Callable[[Callable[[str], None]], object]) -> None:
    """`work(log)` with its lines appended to `path`; a failure is logged, never raised (a thread)."""
    with open(path, "a", encoding="utf-8") as handle:
        def log(line: str) -> None:
            handle.write(line.rstrip() + "\n")
            handle.flush()
        try:
            work(log)
        except Exception as exc:  # noqa: BLE001 - a background build: its log says what failed
            log(f"the background build failed: {exc}")
