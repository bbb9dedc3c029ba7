"""The docker backend: each model version in its own hardened container (docker SDK).

Containers run MLflow's scoring server (or MLServer) with no new privileges, every capability
dropped, a read-only root filesystem (tmpfs on /tmp), and the same memory, CPU and pids limits
for champion and challenger so that latencies are comparable.

**Fenced in.** A model container has no network (`network_mode=none`): its only interface is its
own loopback, so the model's code cannot reach the other model, the app, the MLflow server, the
host or the internet, whatever the engine's firewall does (CI runs dockerd with
`--iptables=false`, where networks marked internal still route to the host). The sandbox reaches
the server through a Unix socket in a folder only that container mounts
(`socket_dir/SERVER_ID/server.sock`), joined to a port on 127.0.0.1 by `socket_bridge`.

Every container carries labels (sandbox home, owner process, run role, model), and
`sweep_leftovers` removes those an earlier app left behind, found by label, and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ...errors import BackendError, ServerStartError
from ...files import process_alive as _alive
from ...home import SandboxHome
from ...refs import ModelRef
from ...serving.endpoint import Endpoint
from ...settings import ContainerLimits
from ..base import Backend, BuildLog, ContainerRef, ManagedServer, await_ready
from ..mlserver import MLSERVER_RUNTIME, check_runtime
from .images import LABEL, ensure_model_image

BRIDGE_SCRIPT = Path(__file__).with_name("socket_bridge.py")


def docker_client(timeout: float = 3.0):
    """A client whose engine answered ping, or a BackendError saying why not."""
    import docker

    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        client.ping()
        return client
    except Exception as exc:
        raise BackendError(f"No Docker engine answered ({type(exc).__name__}: {str(exc)[:160]}).",
                           hint="Start the engine (dockerd), or use the process backend.") from exc


def _home_label(home: SandboxHome) -> str:
    return hashlib.sha256(str(home.root).encode()).hexdigest()[:12]


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, home: SandboxHome, client=None, limits: ContainerLimits | None = None,
                 log=None, socket_dir: str | None = None, base_image: str | None = None) -> None:
        self.home = home.ensure()
        self.client = client or docker_client()
        self.limits = limits or ContainerLimits()
        self.log = log or (lambda message: None)
        # short on purpose: a Unix socket's path has at most 107 bytes
        self.socket_dir = Path(socket_dir or Path(tempfile.gettempdir()) / f"staging-sockets-{os.getuid()}")
        self.base_image = base_image
        self._bridges: dict[str, subprocess.Popen] = {}

    def _labels(self, **extra: str) -> dict[str, str]:
        return {f"{LABEL}.home": _home_label(self.home), f"{LABEL}.owner_pid": str(os.getpid()),
                f"{LABEL}.owner_host": socket.gethostname(), **{f"{LABEL}.{k}": v for k, v in extra.items()}}

    def start(self, ref: ModelRef, role: str, timeout: float = 120.0, runtime: str = "mlflow") -> ManagedServer:
        check_runtime(runtime)
        image, _ = ensure_model_image(self.client, self.home, ref, self.log, base_image=self.base_image,
                                      server=runtime)
        server_id = f"{role}-{uuid.uuid4().hex[:8]}"
        name = f"staging-{ref.name}-v{ref.version}-{server_id}"
        sockets = self._socket_folder(server_id)
        try:
            container = self.client.containers.run(
                image, detach=True, name=name, network_mode="none",
                labels=self._labels(role=role, model=ref.name, version=ref.version, server=server_id),
                security_opt=["no-new-privileges"], cap_drop=["ALL"], read_only=True,
                tmpfs={"/tmp": "rw,size=256m,mode=1777"}, mem_limit=self.limits.memory,
                nano_cpus=int(self.limits.cpus * 1e9), pids_limit=self.limits.pids,
                volumes={str(sockets): {"bind": "/sock", "mode": "rw"}},
            )
        except Exception as exc:
            shutil.rmtree(sockets, ignore_errors=True)
            raise BackendError(f"The {role} container for {ref.uri} could not start: {exc}",
                               hint="Check the engine's log.") from exc
        url = f"http://127.0.0.1:{self._bridge(server_id, sockets / 'server.sock')}"
        if runtime == MLSERVER_RUNTIME:
            url += f"/v2/models/{ref.name}"
        log_path = self.home.logs_dir / f"{server_id}.log"
        endpoint = Endpoint(role=role, url=url, backend=self.name, model=ref)
        server = ManagedServer(server_id, role, ref, endpoint, self.name, log_path, time.time(),
                               container=ContainerRef(container.id, image, name), runtime=runtime)

        def exit_code():
            container.reload()
            return container.attrs["State"].get("ExitCode") if container.status in ("exited", "dead") else None

        return await_ready(self, server, timeout, exit_code,
                           lambda what: self._start_failure(server, container, what))

    def prepare(self, refs: dict[str, ModelRef], runtimes: dict[str, str] | None = None) -> None:
        """Every model's image built (or found) before any starts, one after the other (the
        engine builds under a lock), so no start waits on another's build."""
        from ..mlserver import runtime_for

        for role, ref in refs.items():
            ensure_model_image(self.client, self.home, ref, self.log, base_image=self.base_image,
                               server=runtime_for(runtimes or {}, role))

    def _socket_folder(self, server_id: str) -> Path:
        """The folder one container mounts at /sock: made here, writable by its user (uid 10001)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        folder = self.socket_dir / server_id
        folder.mkdir(mode=0o700)
        try:
            os.chown(folder, 10001, 10001)
        except PermissionError:  # not root: let the container's user in by mode
            folder.chmod(0o777)
        return folder

    def _bridge(self, server_id: str, path: Path) -> int:
        """Start the host side of the socket bridge for one server; its port on 127.0.0.1."""
        process = subprocess.Popen([sys.executable, str(BRIDGE_SCRIPT), "tcp-to-unix", "127.0.0.1", "0", str(path),
                                    "--parent", str(os.getpid())], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   text=True, start_new_session=True)
        self._bridges[server_id] = process
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            raise BackendError(f"The socket bridge to {path} did not start.", hint="Check that /tmp is writable.")
        return int(line)

    def _release(self, server_id: str) -> None:
        process = self._bridges.pop(server_id, None)
        if process is not None:
            process.terminate()
            process.wait(timeout=5)
        shutil.rmtree(self.socket_dir / server_id, ignore_errors=True)

    def _start_failure(self, server: ManagedServer, container, what: str) -> ServerStartError:
        log = container.logs(tail=40).decode("utf-8", "replace")
        server.log_path.write_text(log)
        state = container.attrs.get("State", {})
        if state.get("OOMKilled"):
            return ServerStartError(
                f"The {server.role} container for {server.model.uri} was killed for using more memory than its "
                f"limit of {self.limits.memory}.", hint="Raise STAGING_CONTAINER_MEMORY (the same limit applies to "
                                                         "both models).", detail=log)
        return ServerStartError(f"The {server.role} container for {server.model.uri} {what} "
                                f"({server.endpoint.ready_url}).", hint="The tail of its log is below.", detail=log)

    def _container(self, server: ManagedServer):
        import docker.errors

        try:
            return self.client.containers.get(server.container.id) if server.container else None
        except docker.errors.NotFound:
            return None

    def is_running(self, server: ManagedServer) -> bool:
        container = self._container(server)
        return container is not None and container.status == "running"

    def stop(self, server: ManagedServer) -> None:
        container = self._container(server)
        try:
            if container is not None:
                server.log_path.write_bytes(container.logs(tail=200))
                container.stop(timeout=5)
        finally:
            if container is not None:
                container.remove(force=True)
            self._release(server.server_id)

    def restart(self, server: ManagedServer, timeout: float = 120.0) -> ManagedServer:
        """The same container restarted in place (same name, same endpoint)."""
        container = self._container(server)
        if container is None:
            raise BackendError(f"The {server.role} container is gone.", hint="Start the servers again.")
        container.restart(timeout=5)
        server.endpoint.wait_ready(timeout)
        return server

    def set_build_log(self, log: BuildLog) -> None:
        self.log = log

    def status(self, server: ManagedServer) -> dict[str, object]:
        """Engine-side facts for the Environment page: state, health, CPU and memory, log tail."""
        container = self._container(server)
        if container is None:
            return {"status": "gone"}
        state = container.attrs["State"]
        facts: dict[str, object] = {"status": container.status, "health": state.get("Health", {}).get("Status", "—"),
                                    "image": server.container.image if server.container else "—",
                                    "oom_killed": state.get("OOMKilled", False)}
        if container.status == "running":
            facts.update(_usage(container.stats(stream=False)))
        return facts

    def usage(self, server: ManagedServer) -> tuple[float, float] | None:
        """The container's cgroup: cumulative CPU seconds and memory in MB (the engine's one-shot stats)."""
        container = self._container(server)
        if container is None or container.status != "running":
            return None
        stats = container.stats(stream=False, one_shot=True)
        total_ns = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
        memory = stats.get("memory_stats", {}).get("usage")
        if total_ns is None or memory is None:
            return None
        return total_ns / 1e9, memory / 2**20

    def image_mb(self, server: ManagedServer) -> float | None:
        if server.container is None:
            return None
        try:
            return round(self.client.images.get(server.container.image).attrs["Size"] / 2**20, 1)
        except Exception:  # noqa: BLE001 - an image removed meanwhile has no size to give
            return None

    def log_tail(self, server: ManagedServer, lines: int = 40) -> str:
        container = self._container(server)
        if container is None:
            return server.log_tail(lines)
        return container.logs(tail=lines).decode("utf-8", "replace")

    def sweep_leftovers(self) -> list[str]:
        """Remove this home's containers and networks whose owning app process is gone."""
        swept = []
        filters = {"label": f"{LABEL}.home={_home_label(self.home)}"}
        for container in self.client.containers.list(all=True, filters=filters):
            labels = container.labels
            same_host = labels.get(f"{LABEL}.owner_host") == socket.gethostname()
            if same_host and _alive(int(labels.get(f"{LABEL}.owner_pid", "0") or 0)):
                continue
            container.remove(force=True)
            shutil.rmtree(self.socket_dir / labels.get(f"{LABEL}.server", "-"), ignore_errors=True)
            swept.append(container.name)
        for network in self.client.networks.list(filters=filters):
            network.reload()
            if not network.containers:
                network.remove()
                swept.append(network.name)
        return swept


def _usage(stats: dict) -> dict:
    cpu, pre = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or 1
    memory = stats.get("memory_stats", {})
    return {"cpu_percent": round(100.0 * cpu_delta / system_delta * cores, 1) if system_delta > 0 else 0.0,
            "memory_mb": round(memory.get("usage", 0) / 2**20, 1),
            "memory_limit_mb": round(memory.get("limit", 0) / 2**20)}
