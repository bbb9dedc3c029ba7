"""A capacity run: champion and challenger measured one at a time under the same backend,
objective and harness.

First the harness's own ceiling against the stub (`harness`). Then, for each repeat, the
champion and then the challenger (A B A B, so drift in the machine falls on both): the model
is started alone, timed from its start to its first answer (cold start), ramped to its
sustainable rate after a short warm-up (the first repeat from the bottom, later ones from the
first's bracket), and in the last repeat given the spike (its base a fifth of the weaker model's
median rate so far, the same for both); then stopped before the other starts, so the two never
share the cores. The caller says how to start and stop a model (`Starter`, `Stopper`): the sandbox's
backend, whichever it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from ..errors import ConfigurationError
from ..roles import CHALLENGER, CHAMPION
from .harness import Ceiling, harness_ceiling
from .load import Sender, at_rate
from .measure import measure_server
from .ramp import Objective, RampSettings, SustainableRate
from .resources import Reader
from .result import CapacityResult, ModelCapacity, Prices, median_rate
from .spike import SpikeResult, SpikeSettings, summarize_spike

ORDER = (CHAMPION, CHALLENGER)
WARM_BURST = 32
SPIKE_BASE_SHARE = 0.2  # the spike's default base: a fifth of the weaker model's sustainable rate


@dataclass(frozen=True)
class Target:
    """A started model server, as the capacity run needs it."""

    role: str
    version: str
    url: str  # where predictions are POSTed
    bodies: list[bytes]  # recorded requests' bodies, in this server's protocol
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    read_usage: Reader | None = None  # its cumulative CPU seconds and memory MB, when they can be read
    image_mb: float | None = None  # its container image's size


Starter = Callable[[str], Target]  # role -> the model started and answering /ping
Stopper = Callable[[Target], None]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CapacitySettings:
    """Everything a capacity run is asked, checked before anything starts."""

    objective: Objective = Objective()
    ramp: RampSettings = RampSettings(start_rate=20, growth=2.0, max_rate=5000, step_s=3.0, refine_steps=3)
    warmup_s: float = 2.0  # after the first answer, at half the start rate, before the ramp (not counted)
    repeats: int = 2
    spike: SpikeSettings | None = SpikeSettings()
    prices: Prices | None = None
    peak_rate: float | None = None
    measure_harness: bool = True
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not (isinstance(self.repeats, int) and 1 <= self.repeats <= 10):
            raise ConfigurationError(f"The capacity run's repeats are {self.repeats!r}.",
                                     hint="Give 1 to 10 (2 shows the spread between repeats).")
        if self.peak_rate is not None and not (math.isfinite(self.peak_rate) and self.peak_rate > 0):
            raise ConfigurationError(f"The peak rate is {self.peak_rate!r}.",
                                     hint="Give the requests a second to plan for, above 0.")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ConfigurationError(f"The request timeout is {self.timeout_s!r} s.", hint="Give seconds above 0.")

    def as_dict(self) -> dict:
        return {"ramp": asdict(self.ramp), "spike": asdict(self.spike) if self.spike else None,
                "repeats": self.repeats, "timeout_s": self.timeout_s}


def warmup_schedule(settings: CapacitySettings) -> np.ndarray:
    """A burst of `WARM_BURST` requests at once (a server starts the threads a busy step will need,
    and each thread's first prediction initializes its own pools: about 100 ms on the demo's models,
    which otherwise lands in the first busy step's p99), then `warmup_s` at half the start rate."""
    steady = at_rate(settings.ramp.start_rate / 2, settings.warmup_s)
    return np.concatenate([np.zeros(WARM_BURST), 0.5 + steady])


def spike_base(rates: dict[str, list[SustainableRate]], fallback: float) -> float:
    """A fifth of the lower of the two models' median sustainable rates measured so far, so that
    a tenfold spike is twice what the weaker one holds (the start rate when neither held one)."""
    medians = [median_rate([f.rate for f in found]) for found in rates.values() if found]
    held = [m for m in medians if m]
    return max(1.0, round(min(held, default=fallback) * SPIKE_BASE_SHARE, 1))


def _cold_start(sender: Sender, target: Target, began: float) -> float | None:
    """Seconds from the start call to the model's first answer (None: the first request failed)."""
    first = sender.send(target.url, target.bodies[:1], np.zeros(1), target.headers, shards=1)
    ok = bool(first["status"].iloc[0] == 200)
    return round(time.monotonic() - began, 3) if ok else None


def _memory_growth(found: SustainableRate) -> float | None:
    readings = [s.resources.get("memory_mb_end") for s in found.steps if s.resources]
    memory = [float(m) for m in readings if m is not None and math.isfinite(m)]
    return round(memory[-1] - memory[0], 1) if len(memory) >= 2 else None


def _sized_by_use(steps: list[dict], rate: float | None) -> tuple[float | None, float | None]:
    """A process's instance: the CPU it used and the memory it held at its sustainable rate."""
    held = [s for s in steps if rate and s["rate"] == rate and s.get("resources")]
    if not held:
        return None, None
    use = held[-1]["resources"]
    cores, memory = use.get("cpu_cores_mean"), use.get("memory_mb_peak")
    if cores is None or memory is None or not (math.isfinite(cores) and math.isfinite(memory)):
        return None, None
    return round(max(cores, 0.01), 3), round(memory / 1024, 3)


def run_capacity(model_name: str, backend: str, start: Starter, stop: Stopper, settings: CapacitySettings,
                 limits: dict | None = None, progress: Progress | None = None) -> CapacityResult:
    """Measure both models; `limits` (cpus, memory_gb) when containers run them under limits."""
    say = progress or (lambda message: None)
    began, stamp = time.monotonic(), datetime.now(UTC)
    ceiling: Ceiling | None = None
    rates: dict[str, list[SustainableRate]] = {role: [] for role in ORDER}
    steps: dict[str, list[dict]] = {role: [] for role in ORDER}
    colds: dict[str, list[float]] = {role: [] for role in ORDER}
    growth: dict[str, list[float]] = {role: [] for role in ORDER}
    spikes: dict[str, SpikeResult] = {}
    seen: dict[str, Target] = {}
    base: float | None = None  # the spike's base rate, the same for both models
    with Sender(settings.timeout_s) as sender:
        if settings.measure_harness:
            say("measuring the harness's own ceiling against a stub server…")
            ceiling = harness_ceiling(sender)
            say(f"the harness holds {ceiling.rate or 0:,.0f} req/s on this machine now")
        for repeat in range(settings.repeats):
            for role in ORDER:
                say(f"repeat {repeat + 1} of {settings.repeats}: starting the {role} alone…")
                started = time.monotonic()
                target = start(role)
                seen[role] = target
                try:
                    cold = _cold_start(sender, target, started)
                    if cold is not None:
                        colds[role].append(cold)
                    if settings.warmup_s:  # first-call paths and caches, before anything is counted
                        sender.send(target.url, target.bodies, warmup_schedule(settings), target.headers)
                    first = rates[role][0] if rates[role] else None
                    bracket = (first.rate, first.first_bad) if first is not None and first.rate else None
                    say(f"repeat {repeat + 1}: ramping the {role}" + (" from the first repeat's bracket…"
                                                                      if bracket else "…"))
                    found = measure_server(sender, target.url, target.bodies, settings.ramp, settings.objective,
                                           target.read_usage, target.headers, bracket)
                    rates[role].append(found)
                    steps[role] += [{**s.as_dict(), "repeat": repeat + 1} for s in found.steps]
                    if (grown := _memory_growth(found)) is not None:
                        growth[role].append(grown)
                    if settings.spike is not None and repeat == settings.repeats - 1:
                        base = base or settings.spike.base_rate or spike_base(rates, settings.ramp.start_rate)
                        say(f"spiking the {role}: {base:g} → {base * settings.spike.multiple:g} req/s…")
                        answers = sender.send(target.url, target.bodies, settings.spike.schedule(base), target.headers)
                        spikes[role] = summarize_spike(answers, settings.spike, base)
                finally:
                    stop(target)
    models = {}
    for role in ORDER:
        found_all = rates[role]
        if limits:
            vcpus, memory_gb, sized_by = limits.get("cpus"), limits.get("memory_gb"), "limits"
        else:
            vcpus, memory_gb = _sized_by_use(steps[role], max((f.rate or 0) for f in found_all) or None)
            sized_by = "use"
        models[role] = ModelCapacity(
            role=role, version=seen[role].version, rates=[f.rate for f in found_all],
            first_bad=[f.first_bad for f in found_all], steps=steps[role], cold_start_s=colds[role],
            memory_growth_mb=max(growth[role]) if growth[role] else None,
            harness_limited=bool(ceiling and ceiling.limits(median_rate([f.rate for f in found_all]))),
            vcpus=vcpus, memory_gb=memory_gb,
            sized_by=sized_by, image_mb=seen[role].image_mb, spike=spikes.get(role))
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)[:60]
    return CapacityResult(capacity_id=f"{stamp:%Y%m%d-%H%M%S}-{safe_name}", model_name=model_name,
                          backend=backend, objective=settings.objective, ceiling=ceiling, models=models,
                          started_at=stamp.isoformat(timespec="seconds"), duration_s=round(time.monotonic() - began, 1),
                          settings=settings.as_dict(), prices=settings.prices, peak_rate=settings.peak_rate,
                          limits=dict(limits or {}))
