"""One model server's capacity: the ramp (`ramp.find_sustainable`) run for real, each step the
open-loop load (`load.Sender`) with the server's use sampled beside it (`resources`). A step
returns only once every request it sent has answered or timed out, so the next step starts on
an idle server."""

from __future__ import annotations

from dataclasses import asdict

from .load import Sender, at_rate
from .ramp import Objective, RampSettings, StepResult, SustainableRate, find_sustainable, summarize_step
from .resources import Reader, UsageSampler


def measure_step(sender: Sender, url: str, bodies: list[bytes], rate: float, settings: RampSettings,
                 read_usage: Reader | None = None, headers: dict[str, str] | None = None) -> StepResult:
    """One step at `rate` (for `settings.duration(rate)` seconds), with the server's use when it can be read."""
    duration = settings.duration(rate)
    sampler = UsageSampler(read_usage).start() if read_usage else None
    answers = sender.send(url, bodies, at_rate(rate, duration), headers)
    usage = asdict(sampler.stop()) if sampler else None
    return summarize_step(answers, rate, duration, settings.late_margin_ms, usage)


def measure_server(sender: Sender, url: str, bodies: list[bytes], settings: RampSettings, objective: Objective,
                   read_usage: Reader | None = None, headers: dict[str, str] | None = None,
                   bracket: tuple[float, float | None] | None = None) -> SustainableRate:
    """The server's sustainable rate under `objective`, with every step it took to find it
    (`bracket`: an earlier repeat's good and bad rates, to start from)."""
    return find_sustainable(lambda rate: measure_step(sender, url, bodies, rate, settings, read_usage, headers),
                            settings, objective, bracket=bracket)
