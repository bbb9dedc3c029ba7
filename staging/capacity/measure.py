"""One model server's capacity: the ramp (`ramp.find_sustainable`) run for real, each step the
open-loop load (`load.send_at_rate`) with the server's process tree sampled beside it
(`resources`). A step returns only once every request it sent has answered or timed out, so
the next step starts on an idle server."""

from __future__ import annotations

from dataclasses import asdict

from .load import send_at_rate
from .ramp import Objective, RampSettings, StepResult, SustainableRate, find_sustainable, summarize_step
from .resources import ProcessTreeSampler


def measure_step(url: str, bodies: list[bytes], rate: float, settings: RampSettings, pid: int | None = None,
                 timeout_s: float = 10.0, headers: dict[str, str] | None = None) -> StepResult:
    """One step at `rate` for `settings.step_s` seconds, with the server's use when its pid is known."""
    sampler = ProcessTreeSampler(pid).start() if pid else None
    answers = send_at_rate(url, bodies, rate, settings.step_s, timeout_s, headers)
    usage = asdict(sampler.stop()) if sampler else None
    return summarize_step(answers, rate, settings.step_s, settings.late_margin_ms, usage)


def measure_server(url: str, bodies: list[bytes], settings: RampSettings, objective: Objective,
                   pid: int | None = None, timeout_s: float = 10.0,
                   headers: dict[str, str] | None = None) -> SustainableRate:
    """The server's sustainable rate under `objective`, with every step it took to find it."""
    return find_sustainable(lambda rate: measure_step(url, bodies, rate, settings, pid, timeout_s, headers),
                            settings, objective)
