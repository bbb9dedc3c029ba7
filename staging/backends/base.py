"""What every backend hands back (`ManagedServer`), and starting two servers at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ..endpoints import Endpoint
from ..errors import BackendError, ServerStartError
from ..registry import ModelRef


@dataclass(frozen=True)
class ManagedServer:
    server_id: str
    role: str
    model: ModelRef
    endpoint: Endpoint
    backend: str
    log_path: Path
    started_at: float
    pid: int | None = None
    extra: dict = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at


class Backend(Protocol):
    name: str

    def start(self, ref: ModelRef, role: str, timeout: float = 120.0) -> ManagedServer: ...

    def stop(self, server: ManagedServer) -> None: ...

    def is_running(self, server: ManagedServer) -> bool: ...

    def sweep_leftovers(self) -> list[str]: ...

    def log_tail(self, server: ManagedServer, lines: int = 40) -> str: ...


ProgressCallback = Callable[[str, str], None]  # (role, message)


def start_pair(backend: Backend, refs: dict[str, ModelRef], progress: ProgressCallback | None = None,
               timeout: float = 120.0) -> dict[str, ManagedServer]:
    """Start one server per role in parallel; if any fails, stop the others and re-raise."""
    notify = progress or (lambda role, message: None)

    def launch(role: str) -> ManagedServer:
        notify(role, f"starting {refs[role].uri}")
        began = time.monotonic()
        server = backend.start(refs[role], role, timeout=timeout)
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
    except BackendError as exc:
        error = failure(f"did not answer /ping within {timeout:.0f} s ({exc.message.split('(')[-1].rstrip('.)')})")
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
