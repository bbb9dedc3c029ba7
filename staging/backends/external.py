"""The endpoint backend: models already served elsewhere, by anything that speaks MLflow's
scoring protocol (a base URL, http://HOST:PORT) or the Open Inference Protocol (KServe's form,
http://HOST/v2/models/NAME). The sandbox starts and stops nothing; it only checks readiness.

Every URL is checked against the endpoint allow-list (`destinations`) when the backend is made,
before anything is sent: production traffic goes only to hosts the user has allowed."""

from __future__ import annotations

import time

from ..errors import ConfigurationError
from ..home import SandboxHome
from ..refs import ModelRef
from ..serving.destinations import check_endpoint_url
from ..serving.endpoint import Endpoint
from ..settings import LOOPBACK_HOSTS
from .base import Backend, ManagedServer


class EndpointBackend(Backend):
    name = "endpoint"

    def __init__(self, home: SandboxHome, urls: dict[str, str], allowed: tuple[str, ...] = LOOPBACK_HOSTS) -> None:
        self.home = home.ensure()
        self.allowed = allowed
        self.urls = {role: check_endpoint_url(url, allowed, role) for role, url in urls.items() if url and url.strip()}

    def start(self, ref: ModelRef, role: str, timeout: float = 120.0, runtime: str = "mlflow") -> ManagedServer:
        url = self.urls.get(role)
        if not url:
            raise ConfigurationError(f"No URL was given for the {role} endpoint.",
                                     hint="Give the base URL of a server that answers /ping and /invocations "
                                          "(http://127.0.0.1:5001), or a V2 model's (http://HOST/v2/models/NAME).")
        endpoint = Endpoint(role=role, url=url, backend=self.name, model=ref)
        endpoint.wait_ready(timeout)
        return ManagedServer(f"{role}-external", role, ref, endpoint, self.name,
                             self.home.logs_dir / f"{role}-external.log", time.time(), runtime="")

    def stop(self, server: ManagedServer) -> None:
        """External servers are not ours to stop."""

    def is_running(self, server: ManagedServer) -> bool:
        return server.endpoint.healthy()

    def sweep_leftovers(self) -> list[str]:
        return []

    def log_tail(self, server: ManagedServer, lines: int = 40) -> str:
        return f"{server.endpoint.url} is served elsewhere; its logs are where it runs."
