"""The process backend: each model is MLflow's own scoring server in a child process, or
MLServer (V2), each from a Python environment of its own (`environments`): the model's
recorded requirements with the server's, never the app's environment.

`mlflow models serve --env-manager local`, run by the model's venv's interpreter, with one
uvicorn worker (more workers made each keep-alive request slower here) on a free 127.0.0.1
port, in its own process group so it stops with all its children; `mlserver start` likewise.
Both models' environments are made before either starts (`prepare`). Either serves the model's
files downloaded under the home with the app's own access, and runs with the app's
environment variables minus every secret (`settings.without_secrets`):
model code never sees an MLflow password or an endpoint token. Each server leaves a record under the sandbox home naming
the app process that owns it; `sweep_leftovers` stops servers whose owner has died.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from ..errors import ServerStartError
from ..files import process_alive
from ..home import SandboxHome
from ..refs import ModelRef
from ..serving.endpoint import Endpoint
from ..settings import without_secrets
from .base import Backend, ManagedServer, await_ready, tail
from .environments import prepare_environments, requirements_venv
from .mlserver import MLSERVER_RUNTIME, check_runtime, mlserver_venv, server_folder
from .wheels import model_requirements

STOP_GRACE_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree_usage(pid: int) -> tuple[float, float] | None:
    """CPU seconds and resident memory (MB) of a process and all its children (MLflow's server
    forks uvicorn workers); None once it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    cpu = rss = 0.0
    for process in processes:
        try:
            times, memory = process.cpu_times(), process.memory_info()
        except psutil.Error:  # a worker that exited between the listing and the reading
            continue
        cpu += times.user + times.system
        rss += memory.rss
    return cpu, rss / 2**20


def _is_model_server(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
            return b"mlflow" in command or b"mlserver" in command
    except OSError:
        return False


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, home: SandboxHome, workers: int = 1) -> None:
        self.home = home.ensure()
        self.workers = workers
        self._processes: dict[str, subprocess.Popen] = {}
        self.build_log = lambda line: None  # where making MLServer's environment reports

    def start(self, ref: ModelRef, role: str, timeout: float = 120.0, runtime: str = "mlflow") -> ManagedServer:
        check_runtime(runtime)
        server_id = f"{role}-{uuid.uuid4().hex[:8]}"
        log_path = self.home.logs_dir / f"{server_id}.log"
        port = free_port()
        # model code runs in this process: it gets the model's files, never the app's secrets
        env = {**without_secrets(os.environ), **self.home.mlflow_env(), "OMP_NUM_THREADS": "1",
               "PYTHONUNBUFFERED": "1"}
        if runtime == MLSERVER_RUNTIME:
            command, url, bin_dir = self._mlserver_command(ref, server_id, port)
        else:
            venv = self._environment(ref, role, runtime)
            command = [str(venv / "bin" / "python"), "-m", "mlflow", "models", "serve", "-m",
                       str(self._files(ref, role)), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                       "-w", str(self.workers)]
            url, bin_dir = f"http://127.0.0.1:{port}", str(venv / "bin")
        # the server runs its own tools (uvicorn) by name: find them beside its interpreter
        env["PATH"] = os.pathsep.join(p for p in (bin_dir, os.environ.get("PATH")) if p)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True, stdin=subprocess.DEVNULL)
        self._processes[server_id] = process
        endpoint = Endpoint(role=role, url=url, backend=self.name, model=ref)
        server = ManagedServer(server_id, role, ref, endpoint, self.name, log_path, time.time(), process.pid,
                               runtime=runtime)
        self._write_record(server)
        return await_ready(self, server, timeout, process.poll, lambda what: self._start_failure(server, what))

    def usage(self, server: ManagedServer) -> tuple[float, float] | None:
        return process_tree_usage(server.pid) if server.pid else None

    def prepare(self, refs: dict[str, ModelRef], runtimes: dict[str, str] | None = None) -> None:
        """Both models' environments made (in parallel) before either starts; one error names every
        requirement that cannot be installed."""
        from .mlserver import MLSERVER_REQUIREMENTS, runtime_for

        wanted = {}
        for role, ref in refs.items():
            runtime = runtime_for(runtimes or {}, role)
            requirements = model_requirements(self._files(ref, role))
            wanted[role] = (("mlserver", sorted(set(requirements) | set(MLSERVER_REQUIREMENTS)))
                            if runtime == MLSERVER_RUNTIME else ("model", requirements))
        prepare_environments(self.home, wanted, self.build_log)

    def _environment(self, ref: ModelRef, role: str, runtime: str) -> Path:
        """The model's own environment for MLflow's server (made now if `prepare` did not)."""
        return requirements_venv(self.home, model_requirements(self._files(ref, role)), "model",
                                 lambda line: self.build_log(f"{role}: {line}"))

    def _files(self, ref: ModelRef, role: str) -> Path:
        """The model's files, downloaded (once) under the home with the app's own access."""
        from ..registry.model_files import model_files

        try:
            return model_files(self.home, ref) / "model"
        except Exception as exc:  # MLflow's errors, whatever the store: said in one sentence
            raise ServerStartError(f"The {role} model {ref.uri} could not be read from the registry: "
                                   f"{str(exc)[:300]}", hint="Check that the version exists and that its files "
                                                             "can be downloaded.") from exc

    def _mlserver_command(self, ref: ModelRef, server_id: str, port: int) -> tuple[list[str], str, str]:
        """(command, V2 base URL, bin folder) for MLServer serving `ref`: its venv made (or found),
        the model's files downloaded, its settings written beside them."""
        from ..registry.model_files import model_files

        model_dir = model_files(self.home, ref) / "model"
        venv = mlserver_venv(self.home, model_requirements(model_dir), self.build_log)
        folder = server_folder(self.home.servers_dir / server_id, ref, model_dir, port, free_port())
        return ([str(venv / "bin" / "mlserver"), "start", str(folder)], f"http://127.0.0.1:{port}/v2/models/{ref.name}",
                str(venv / "bin"))

    def set_build_log(self, log) -> None:
        self.build_log = log

    def _start_failure(self, server: ManagedServer, what: str) -> ServerStartError:
        log = tail(server.log_path, 30)
        in_use = "address already in use" in log.lower()
        return ServerStartError(
            f"The {server.role} model server for {server.model.uri} {what} ({server.endpoint.ready_url}).",
            hint=("Its port was taken by another program; start it again to pick a new port." if in_use else
                  "The last lines of its log are below; the full log is " + str(server.log_path) + "."),
            detail=log,
        )

    def is_running(self, server: ManagedServer) -> bool:
        return server.pid is not None and process_alive(server.pid)

    def log_tail(self, server: ManagedServer, lines: int = 40) -> str:
        return tail(server.log_path, lines)

    def stop(self, server: ManagedServer) -> None:
        process = self._processes.pop(server.server_id, None)
        if server.pid is not None:
            _stop_group(server.pid, process)
        (self.home.servers_dir / f"{server.server_id}.json").unlink(missing_ok=True)
        shutil.rmtree(self.home.servers_dir / server.server_id, ignore_errors=True)  # MLServer's settings

    def _write_record(self, server: ManagedServer) -> None:
        record = {"server_id": server.server_id, "pid": server.pid, "owner_pid": os.getpid(),
                  "role": server.role, "model": server.model.as_dict(), "url": server.endpoint.url,
                  "log": str(server.log_path), "started_at": server.started_at}
        (self.home.servers_dir / f"{server.server_id}.json").write_text(json.dumps(record))

    def sweep_leftovers(self) -> list[str]:
        """Stop servers recorded under this home whose owning app process is gone."""
        swept = []
        for path in self.home.servers_dir.glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                path.unlink(missing_ok=True)
                continue
            if process_alive(record.get("owner_pid", -1)):
                continue
            pid = record.get("pid")
            if pid and process_alive(pid) and _is_model_server(pid):
                _stop_group(pid, None)
                swept.append(record.get("server_id", path.stem))
            path.unlink(missing_ok=True)
        return swept


def _stop_group(pid: int, process: subprocess.Popen | None) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after a grace period."""
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                break
            if process is None and not process_alive(pid):
                break
            time.sleep(0.05)
        else:
            continue
        break
    try:
        os.killpg(pid, signal.SIGKILL)  # children the server left behind
    except (ProcessLookupError, PermissionError):
        pass
    if process is not None:
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
