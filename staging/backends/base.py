"""The backend seam: the `Backend` protocol every backend implements, what a backend hands
back (`ManagedServer`), and starting two servers at once.

`Sandbox` uses only what `Backend` declares; the methods with a body are defaults that a
backend overrides where it can do better (a container restarts in place; an engine has
usage figures). The backends subclass the protocol, so the type checker verifies each one
against it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import EndpointNotReady, ServerStartError
from ..refs import ModelRef
from ..serving.endpoint import Endpoint


@dataclass(frozen=True)
class ContainerRef:
    """Which container serves a model, and from which image."""

    id: str
    image: str
    name: str


@dataclass(frozen=True)
class ManagedServer:
    server_id: str
    role: str
    model: ModelRef
    endpoint: Endpoint
    backend: str
    log_path: Path
    started_at: float
    pid: int | None = None  # a local process's id
    container: ContainerRef | None = None  # a container's identity on the engine
    runtime: str = "mlflow"  # what serves it: mlflow (`mlflow models serve`), mlserver, or "" (someone else's)
    checked: str = ""  # an endpoint elsewhere: how it was found to serve this model (or the user's reason to skip)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at


BuildLog = Callable[[str], None]


class Backend(Protocol):
    """What starts a model as a live scoring endpoint, and everything `Sandbox` asks of it."""

    name: str

    def start(self, ref: ModelRef, role: str, timeout: float = 120.0, runtime: str = "mlflow") -> ManagedServer:
        """Start one model on `runtime` (MLflow's scoring server, or MLServer speaking V2) and
        wait until it answers; a `BackendError` says why not."""
        ...

    def stop(self, server: ManagedServer) -> None:
        """Stop the server (a no-op for one the sandbox did not start)."""
        ...

    def is_running(self, server: ManagedServer) -> bool: ...

    def sweep_leftovers(self) -> list[str]:
        """Stop what an earlier app under this home left running; the names of what was stopped."""
        return []

    def log_tail(self, server: ManagedServer, lines: int = 40) -> str:
        return server.log_tail(lines)

    def status(self, server: ManagedServer) -> dict[str, object]:
        """Facts for the Environment page beyond health and uptime (state, image, CPU, memory)."""
        return {}

    def restart(self, server: ManagedServer, timeout: float = 120.0) -> ManagedServer:
        """The server started again, on the same runtime: by default stopped and started anew (a new endpoint)."""
        self.stop(server)
        return self.start(server.model, server.role, timeout, runtime=server.runtime or "mlflow")

    def usage(self, server: ManagedServer) -> tuple[float, float] | None:
        """The server's cumulative CPU seconds and its memory in MB now, for a capacity run's
        sampler; None where they cannot be read (someone else's endpoint)."""
        return None

    def image_mb(self, server: ManagedServer) -> float | None:
        """The size of the image it runs from, where it runs from one."""
        return None

    def set_build_log(self, log: BuildLog) -> None:
        """Where to report slow preparation (image builds) while starting; ignored by default."""
        return None

    def prepare(self, refs: dict[str, ModelRef], runtimes: dict[str, str] | None = None) -> None:
        """Make what every model needs before any starts (the process backend's environments), so
        that a model that cannot be served is named with the other before either runs."""
        return None


ProgressCallback = Callable[[str, str], None]  # (role, message)


def start_pair(backend: Backend, refs: dict[str, ModelRef], progress: ProgressCallback | None = None,
               timeout: float = 120.0, runtimes: dict[str, str] | None = None) -> dict[str, ManagedServer]:
    """Start one server per role in parallel, each on its runtime (`runtimes`: role -> name, "*"
    for every role; MLflow's server by default); if any fails, stop the others and re-raise."""
    from .mlserver import runtime_for

    notify = progress or (lambda role, message: None)
    backend.prepare(refs, runtimes)

    def launch(role: str) -> ManagedServer:
        runtime = runtime_for(runtimes or {}, role)
        notify(role, f"starting {refs[role].uri}" + (f" on {runtime}" if runtime != "mlflow" else ""))
        began = time.monotonic()
        server = backend.start(refs[role], role, timeout=timeout, runtime=runtime)
        notify(role, f"ready in {time.monotonic() - began:.1f} s at {server.endpoint.url}")
        return server

    with ThreadPoolExecutor(max_workers=len(refs)) as pool:
        futures = {role: pool.submit(launch, role) for role in refs}
        started, failure = {}, None
        for role, future in futures.items():
            try:
                started[role] = future.result()
            except Exception as exc:  # noqa: BLE001 - the first failure is re-raised below
                failure = failure or exc
    if failure is not None:
        for server in started.values():
            backend.stop(server)
        raise failure
    return started


def await_ready(backend: Backend, server: ManagedServer, timeout: float, exit_code: Callable[[], object],
                failure: Callable[[str], ServerStartError]) -> ManagedServer:
    """Wait for /ping; if the server exits or never answers, stop it and raise `failure(what)`
    (built before the stop, while its log can still be read)."""
    def still_starting() -> None:
        code = exit_code()
        if code is not None:
            raise failure(f"exited with code {code}")

    try:
        server.endpoint.wait_ready(timeout, still_starting)
    except ServerStartError:
        backend.stop(server)
        raise
    except EndpointNotReady as exc:
        error = failure(f"did not answer /ping within {timeout:.0f} s (last error: {exc.last_error})")
        backend.stop(server)
        raise error from exc
    return server


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64_000))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
