"""Runtime backends: what starts a model as a live scoring endpoint.

A backend turns a `ModelRef` into a `ManagedServer` (an `Endpoint` plus what it takes to
stop it). `choose_backend` picks one by name:

    auto      docker when an engine answers and a base image is at hand, else process
    docker    hardened containers (docker SDK); fails with the fix when it cannot run
    process   MLflow's scoring server as a local child process
    endpoint  URLs of servers already running elsewhere (nothing is started)
"""

from __future__ import annotations

from ..errors import BackendError, ConfigurationError
from ..home import SandboxHome
from ..serving.destinations import destination
from ..settings import Settings
from .base import Backend, BuildLog, ContainerRef, ManagedServer, start_pair
from .external import EndpointBackend
from .process import ProcessBackend

BACKEND_NAMES = ("auto", "docker", "process", "endpoint")
PROCESS_NOTICE = "Models run as local processes: MLflow's scoring server, one worker each, on 127.0.0.1."


def choose_backend(name: str, home: SandboxHome, endpoint_urls: dict[str, str] | None = None,
                   log: BuildLog | None = None, settings: Settings | None = None,
                   allowed_hosts: tuple[str, ...] | None = None) -> tuple[Backend, str]:
    """(backend, a sentence for the user saying which backend runs the models and why).
    `allowed_hosts`: the endpoint allow-list (default: the settings')."""
    settings = settings or Settings.from_env()
    if name not in BACKEND_NAMES:
        raise ConfigurationError(f"Unknown backend '{name}'.", hint=f"Choose one of: {', '.join(BACKEND_NAMES)}.")
    if name == "process":
        return ProcessBackend(home), PROCESS_NOTICE
    if name == "endpoint":
        elsewhere = EndpointBackend(home, endpoint_urls or {}, allowed_hosts or settings.allowed_hosts)
        return elsewhere, ("Models are served elsewhere; traffic will go to " +
                           "; ".join(f"the {r}: {destination(u)}" for r, u in elsewhere.urls.items()) + ".")
    from .docker.backend import DockerBackend, docker_client
    from .docker.images import build_base_image_in_background, resolve_base_image, warm_model_images

    try:
        client = docker_client()
    except BackendError:
        if name == "docker":
            raise
        return ProcessBackend(home), "Models run as local processes: no Docker engine answered."
    try:
        base = resolve_base_image(client, wanted=settings.base_image)
    except BackendError as exc:
        if name == "docker":
            raise
        warm = lambda log: warm_model_images(client, home, log)  # so the next start finds the images
        if not settings.base_image and build_base_image_in_background(client, home.logs_dir / "base-image.log", warm):
            return ProcessBackend(home), ("Models run as local processes for now: the Docker engine has no base "
                                          "image yet, and one is being built in the background (about a minute); "
                                          "the next start uses containers.")
        return ProcessBackend(home), f"Models run as local processes: {exc.message} {exc.hint}"
    backend = DockerBackend(home, client, limits=settings.limits, log=log, socket_dir=settings.socket_dir,
                            base_image=settings.base_image)
    limits = backend.limits
    return backend, (f"Models run in hardened containers on the Docker engine (base {base}; each limited to "
                     f"{limits.cpus:g} CPU, {limits.memory} memory, {limits.pids} processes).")


__all__ = ["BACKEND_NAMES", "Backend", "BuildLog", "ContainerRef", "EndpointBackend", "ManagedServer",
           "ProcessBackend", "choose_backend", "start_pair"]
