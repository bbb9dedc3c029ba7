"""The harness's own ceiling: how fast this machine's sender can drive a server that does nothing.

Before any model is measured, the same ramp runs against the stub server (`stub`, uvicorn with
one worker, the stack MLflow's server runs on) started on a free loopback port. A step holds
when at least 99% of its requests left within the late margin, none failed, and the answers
kept pace: at least `KEPT_PACE` of the offered rate came back over the step, so no queue grew
(what wrk's closed loop measures as the server's throughput). The highest such rate is the ceiling. A model measured above
`LIMIT_SHARE` of it is reported as "at least X (the harness's limit)", never as its capacity.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import requests

from ..errors import BackendError
from .load import Sender, at_rate
from .ramp import Objective, RampSettings, StepResult, find_sustainable, summarize_step

LIMIT_SHARE = 0.8  # above this share of the ceiling, a model's rate is the harness's limit
KEPT_PACE = 0.97
ON_TIME_SHARE = 0.99
CEILING_RAMP = RampSettings(start_rate=500, growth=2.0, max_rate=32000, step_s=1.5, refine_steps=4)
BODY = [b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}']


@dataclass(frozen=True)
class Ceiling:
    """The harness's highest on-time rate against the stub, and the steps that found it."""

    rate: float | None
    first_bad: float | None
    steps: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Ceiling:
        return cls(data.get("rate"), data.get("first_bad"), list(data.get("steps") or []))

    def limits(self, rate: float | None) -> bool:
        """Whether a model's measured `rate` is within reach of the harness's own limit."""
        return bool(rate and self.rate and rate >= LIMIT_SHARE * self.rate)


def on_time(step: StepResult, late_margin_ms: float) -> bool:
    """A ceiling step holds: nearly every request left on time, none failed, the stub kept pace."""
    return bool(step.sent and step.late <= (1 - ON_TIME_SHARE) * step.sent and not step.errors
                and step.achieved >= KEPT_PACE * step.rate)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StubServer:
    """The stub on a free loopback port, for the life of a `with` block."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/invocations"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> StubServer:
        self._process = subprocess.Popen([sys.executable, "-m", "staging.capacity.stub", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/ping", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__()
        raise BackendError("The capacity run's stub server (which measures the harness's own limit) did not start.",
                           hint="Check that uvicorn is installed with the sandbox (pip install -e .).")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


def harness_ceiling(sender: Sender, ramp: RampSettings = CEILING_RAMP) -> Ceiling:
    """The sender's ceiling on this machine now, against a fresh stub server."""
    with StubServer() as stub:
        def measure(rate: float) -> StepResult:
            answers = sender.send(stub.url, BODY, at_rate(rate, ramp.duration(rate)))
            return summarize_step(answers, rate, ramp.duration(rate), ramp.late_margin_ms)

        found = find_sustainable(measure, ramp, Objective(),
                                 holds=lambda step: on_time(step, ramp.late_margin_ms))
    return Ceiling(found.rate, found.first_bad, [s.as_dict() for s in found.steps])
