"""Runtime backends: what starts a model as a live scoring endpoint.

A backend turns a `ModelRef` into a `ManagedServer` (an `Endpoint` plus what it takes to
stop it). `choose_backend` picks one by name; `auto` picks the best that runs here.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..home import SandboxHome
from .base import ManagedServer, start_pair
from .process import ProcessBackend

BACKEND_NAMES = ("auto", "process")


def choose_backend(name: str, home: SandboxHome) -> tuple[ProcessBackend, str]:
    """(backend, a sentence for the user saying which backend runs the models and why)."""
    if name not in BACKEND_NAMES:
        raise ConfigurationError(f"Unknown backend '{name}'.", hint=f"Choose one of: {', '.join(BACKEND_NAMES)}.")
    backend = ProcessBackend(home)
    return backend, "Models run as local processes: MLflow's scoring server, one worker each, on 127.0.0.1."


__all__ = ["BACKEND_NAMES", "ManagedServer", "ProcessBackend", "choose_backend", "start_pair"]
