"""A capacity run on the sandbox's backend: every input checked first, then each model started
alone, measured (`staging/capacity/run.py`) and stopped.

`CapacityRuns.check` resolves the pair, scans both versions' files, and reads a sample of the
recorded traffic against the champion's signature: a bad option, a missing alias, a dangerous
model or a bad file is refused before any server starts. `CapacityRuns.run` then stops the
servers the app had running (they would share the cores), makes both models' environments or
images first (so neither's cold start includes a build), and hands the run a way to start and
stop one model: the backend's own `start` and `stop`. Each request body is one recorded row, in
the protocol the started server speaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..backends.mlserver import runtime_for
from ..backends.pool import ServerPool
from ..capacity.result import CapacityResult
from ..capacity.run import CapacitySettings, Progress, Target, run_capacity
from ..errors import TrafficError
from ..registry.scan import refuse_dangerous, trusted_models
from ..serving.protocols import V2, V2Encoder
from .bodies import request_bodies, request_units
from .prepare import Replays

BODY_ROWS = 1000  # recorded rows a capacity run cycles through, sampled with a fixed seed


@dataclass(frozen=True)
class PreparedCapacity:
    """A capacity run whose every input was checked."""

    model_name: str
    refs: dict  # role -> ModelRef
    requests: pd.DataFrame  # the recorded rows to send
    features: tuple[str, ...]
    settings: CapacitySettings
    runtimes: dict[str, str]
    trusted: frozenset[str]


def bodies_for(endpoint, requests: pd.DataFrame, features: tuple[str, ...]) -> list[bytes]:
    """One body per recorded row, in the endpoint's protocol."""
    if endpoint.protocol == V2:
        encoder = V2Encoder.for_frame(requests, features, endpoint.v2_inputs())
        return request_units(requests, features, v2=encoder)[1]
    return request_bodies(requests, features)


class CapacityRuns:
    """The capacity runs of one sandbox."""

    def __init__(self, pool: ServerPool, replays: Replays) -> None:
        self.pool, self.replays = pool, replays

    def check(self, model_name: str, traffic_path: str | Path, settings: CapacitySettings,
              runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = ()) -> PreparedCapacity:
        """Every input of the run, checked before anything slow starts."""
        refs = self.pool.resolve_pair(model_name)
        trusted = trusted_models(trust, refs)
        refuse_dangerous(list(self.pool.scans.scan(self.pool.home, refs).values()), trusted)
        validated = self.replays.validate_traffic(model_name, traffic_path)
        requests = validated.requests
        if requests.empty:
            raise TrafficError(f"No row of {Path(traffic_path).name} can be sent: every one was quarantined.",
                               hint="Check the file against the model's signature on the Replay page.")
        if len(requests) > BODY_ROWS:
            requests = requests.sample(BODY_ROWS, random_state=0).sort_index()
        return PreparedCapacity(model_name, refs, requests.reset_index(drop=True), validated.features, settings,
                                dict(runtimes or {}), frozenset(ref.uri for ref in refs.values() if ref.uri in trusted))

    def run(self, prepared: PreparedCapacity, progress: Progress | None = None) -> CapacityResult:
        """Measure both models one at a time on the pool's backend."""
        say = progress or (lambda message: None)
        pool = self.pool
        pool.stop_all()  # whatever the app had running would share the cores with the model measured
        backend = pool.backend
        pool.trusted = prepared.trusted
        say("making both models' environments (once per requirement set)…")
        backend.set_build_log(lambda line: say(line))
        backend.prepare(prepared.refs, prepared.runtimes)
        servers = {}

        def start(role: str) -> Target:
            server = backend.start(prepared.refs[role], role, runtime=runtime_for(prepared.runtimes, role))
            servers[role] = server
            endpoint = server.endpoint
            return Target(role=role, version=server.model.version, url=endpoint.invocations_url,
                          bodies=bodies_for(endpoint, prepared.requests, prepared.features),
                          headers={"Content-Type": "application/json", **endpoint.headers},
                          read_usage=lambda: backend.usage(server), image_mb=backend.image_mb(server))

        def stop(target: Target) -> None:
            server = servers.pop(target.role, None)
            if server is not None:
                backend.stop(server)

        limits = None
        if backend.name == "docker":
            container_limits = pool.settings.limits
            limits = {"cpus": container_limits.cpus, "memory_gb": _gigabytes(container_limits.memory)}
        return run_capacity(prepared.model_name, backend.name, start, stop, prepared.settings, limits, say)


def _gigabytes(memory: str) -> float | None:
    """Docker's memory limit ("1g", "512m", bytes) in GB."""
    text = str(memory).strip().lower()
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    try:
        number = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text.rstrip("b"))
    except (ValueError, IndexError):
        return None
    return round(number / 2**30, 3)


