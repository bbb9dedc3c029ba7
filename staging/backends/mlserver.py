"""MLServer, the second local runtime: the server KServe and Seldon Core v2 run MLflow models
with, speaking the Open Inference Protocol (V2) at `/v2/models/NAME`.

MLServer pins its own web stack (fastapi 0.115), so it never shares the app's environment:
for processes it runs from a virtual environment the sandbox makes once per requirement set
(the model's pinned requirements plus MLServer's) from the same host-side wheelhouse the
container images use, kept in the shared wheel cache; for containers, the runtime image is
installed from that wheelhouse with no network. A server folder holds MLServer's
`settings.json` (ports, no metrics server, no worker pool: one process, as `-w 1` for MLflow's
server) and `model-settings.json` (`mlserver_mlflow.MLflowRuntime`, the model's files).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigurationError
from ..home import SandboxHome
from ..refs import ModelRef

MLFLOW_RUNTIME, MLSERVER_RUNTIME = "mlflow", "mlserver"
RUNTIMES = (MLFLOW_RUNTIME, MLSERVER_RUNTIME)
MLSERVER_REQUIREMENTS = ["mlserver==1.7.1", "mlserver-mlflow==1.7.1"]


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise ConfigurationError(f"Unknown runtime '{name}'.",
                                 hint=f"Choose {' or '.join(RUNTIMES)}: MLflow's scoring server, or MLServer (V2).")
    return name


def parse_runtimes(text: str | None) -> dict[str, str]:
    """`champion=mlflow,challenger=mlserver` (or one name for every role) as role -> runtime."""
    if not text:
        return {}
    if "=" not in text:
        return {"*": check_runtime(text.strip())}
    out = {}
    for part in text.split(","):
        role, _, runtime = part.partition("=")
        if not role.strip() or not runtime.strip():
            raise ConfigurationError(f"'{part}' is not ROLE=RUNTIME.",
                                     hint="For example --runtime champion=mlflow,challenger=mlserver.")
        out[role.strip()] = check_runtime(runtime.strip())
    return out


def runtime_for(runtimes: dict[str, str], role: str) -> str:
    return runtimes.get(role, runtimes.get("*", MLFLOW_RUNTIME))


def mlserver_venv(home: SandboxHome, requirements: list[str], log=lambda line: None) -> Path:
    """A virtual environment with MLServer and the model's requirements (see `environments`)."""
    from .environments import requirements_venv

    return requirements_venv(home, sorted(set(requirements) | set(MLSERVER_REQUIREMENTS)), "mlserver", log)


def server_folder(folder: Path, ref: ModelRef, model_dir: Path, http_port: int, grpc_port: int,
                  host: str = "127.0.0.1") -> Path:
    """MLServer's settings for one model, written into `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({
        "host": host, "http_port": http_port, "grpc_port": grpc_port, "metrics_endpoint": None,
        "parallel_workers": 0, "debug": False}))
    (folder / "model-settings.json").write_text(json.dumps({
        "name": ref.name, "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(model_dir)}}))
    return folder
