"""The stepped open-loop ramp and the search for a model's sustainable rate.

A step sends requests at one fixed arrival rate for a set time (`load.send_at_rate`) and is
summarized here: offered and achieved rate, p50, p95 and p99 with exact order-statistic 95%
intervals, errors and timeouts by kind, and requests sent late. A step meets the objective
when its percentile (p99 or p95) is at most the objective's milliseconds and its errors and
timeouts at most their share. The ramp multiplies the rate step by step until a step breaks
the objective; a bisection between the last good rate and the first bad one then finds the
sustainable rate: the highest rate measured to meet the objective (SageMaker Inference
Recommender's stairs, guidellm's binary search).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..analytics.latency import answered, order_statistic_interval
from ..errors import ConfigurationError

PERCENTILES = {"p50": 50, "p95": 95, "p99": 99}
DESCENTS = 4  # steps down by `growth` when the first rate already breaks the objective


@dataclass(frozen=True)
class Objective:
    """What a model must keep to hold a rate: its `percentile` latency at most `latency_ms`, and
    errors and timeouts together at most `max_error_rate` of the requests sent."""

    percentile: str = "p99"
    latency_ms: float = 100.0
    max_error_rate: float = 0.01

    def __post_init__(self) -> None:
        if self.percentile not in ("p95", "p99"):
            raise ConfigurationError(f"The capacity objective's percentile is {self.percentile!r}.",
                                     hint="Use p95 or p99.")
        if not (math.isfinite(self.latency_ms) and self.latency_ms > 0):
            raise ConfigurationError(f"The capacity objective's latency is {self.latency_ms} ms.",
                                     hint="Give a positive number of milliseconds, such as 100.")
        if not 0 <= self.max_error_rate < 1:
            raise ConfigurationError(f"The capacity objective's error rate is {self.max_error_rate}.",
                                     hint="Give a share between 0 and 1, such as 0.01.")

    def text(self) -> str:
        return f"{self.percentile} ≤ {self.latency_ms:g} ms and errors ≤ {self.max_error_rate:.1%}"


@dataclass(frozen=True)
class RampSettings:
    """The ramp: from `start_rate` requests a second, times `growth` each step of `step_s`
    seconds (longer at low rates, so that every step sends at least `min_requests`: a p99 needs
    about a hundred answers to mean anything), up to `max_rate`; then `refine_steps` bisections.
    A request that leaves more than `late_margin_ms` after its due time is late (the sender
    could not keep up)."""

    start_rate: float = 5.0
    growth: float = 1.6
    max_rate: float = 2000.0
    step_s: float = 10.0
    refine_steps: int = 3
    late_margin_ms: float = 10.0
    min_requests: int = 100

    def __post_init__(self) -> None:
        checks = [(self.start_rate > 0, "the start rate must be above 0 requests a second"),
                  (self.growth > 1, "each step's rate must grow (growth above 1)"),
                  (self.max_rate >= self.start_rate, "the largest rate must be at least the start rate"),
                  (self.step_s > 0, "a step must last more than 0 seconds"),
                  (self.refine_steps >= 0, "the refining steps cannot be negative"),
                  (self.late_margin_ms >= 0, "the late margin cannot be negative"),
                  (self.min_requests >= 1, "a step must send at least one request")]
        for ok, why in checks:
            if not ok:
                raise ConfigurationError(f"The capacity ramp cannot run: {why}.",
                                         hint="See python -m staging capacity --help for the ramp's options.")

    def duration(self, rate: float) -> float:
        """How long a step at `rate` lasts: `step_s`, or long enough for `min_requests`."""
        return max(self.step_s, self.min_requests / rate)

    def rates(self) -> list[float]:
        """The ramp's rates, each `growth` times the last, the last one capped at `max_rate`."""
        rates, rate = [], self.start_rate
        while rate < self.max_rate:
            rates.append(round(rate, 3))
            rate *= self.growth
        return [*rates, float(self.max_rate)]


@dataclass(frozen=True)
class StepResult:
    """One step of one model: what was offered and what came back."""

    rate: float  # offered, requests a second
    duration_s: float
    sent: int
    answered: int
    achieved: float  # answers a second, from the step's start to its last answer
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count (timeouts included)
    late: int = 0
    percentiles: dict[str, dict[str, float]] = field(default_factory=dict)  # p50/p95/p99 -> estimate, low, high
    resources: dict[str, float] = field(default_factory=dict)  # the server's CPU and memory (resources.Usage)

    @property
    def error_rate(self) -> float:
        return sum(self.errors.values()) / self.sent if self.sent else float("nan")

    def latency(self, percentile: str) -> float:
        return self.percentiles.get(percentile, {}).get("estimate", float("nan"))

    def meets(self, objective: Objective) -> bool:
        latency = self.latency(objective.percentile)
        return bool(self.sent and math.isfinite(latency) and latency <= objective.latency_ms
                    and self.error_rate <= objective.max_error_rate)

    def as_dict(self) -> dict:
        return {**asdict(self), "error_rate": self.error_rate}


def summarize_step(answers: pd.DataFrame, rate: float, duration_s: float, late_margin_ms: float,
                   resources: dict[str, float] | None = None) -> StepResult:
    """One step's answers (`load.send_at_rate`'s frame) as a `StepResult`."""
    ok = answered(answers)
    latencies = np.sort(answers.loc[ok, "latency_ms"].to_numpy(float))
    failed = answers.loc[~ok]
    kinds = failed["error"].where(failed["error"].fillna("") != "", "HTTP " + failed["status"].astype(str))
    percentiles = {}
    for name, q in PERCENTILES.items():
        if latencies.size:
            low, high = order_statistic_interval(latencies, q)
            percentiles[name] = {"estimate": float(np.percentile(latencies, q)), "low": float(low), "high": float(high)}
    late = int((answers["late_ms"] > late_margin_ms).sum()) if "late_ms" in answers else 0
    # throughput: answers over the time from the step's start to its last answer, so a server
    # that falls behind shows its own rate, not the offered one
    last = float((answers.loc[ok, "due_s"] + answers.loc[ok, "latency_ms"] / 1000).max()) \
        if "due_s" in answers and ok.any() else 0.0
    span = max(duration_s, last)
    return StepResult(rate=float(rate), duration_s=float(duration_s), sent=len(answers), answered=int(ok.sum()),
                      achieved=float(ok.sum() / span) if span > 0 else float("nan"),
                      errors={str(k): int(v) for k, v in kinds.value_counts().items()},
                      late=late, percentiles=percentiles, resources=dict(resources or {}))


@dataclass(frozen=True)
class SustainableRate:
    """A model's ramp: every step measured, in order, and the highest rate that met the objective
    (None when even the first step broke it)."""

    steps: list[StepResult]
    rate: float | None
    first_bad: float | None  # the lowest rate measured to break it (None: the ramp never broke it)

    def as_dict(self) -> dict:
        return {"rate": self.rate, "first_bad": self.first_bad, "steps": [s.as_dict() for s in self.steps]}


def find_sustainable(measure: Callable[[float], StepResult], settings: RampSettings, objective: Objective,
                     bracket: tuple[float, float | None] | None = None,
                     holds: Callable[[StepResult], bool] | None = None) -> SustainableRate:
    """Ramp until a step breaks the objective, then bisect between the last good rate and the
    first bad one `settings.refine_steps` times. `measure(rate)` runs one step.

    `bracket` (a good rate and a bad one, say an earlier repeat's) skips the ramp: its ends are
    measured again, moved out by `growth` while they do not hold as they did, then bisected.
    `holds(step)`: what a step must do (default: meet the objective)."""
    holds = holds or (lambda step: step.meets(objective))
    steps: list[StepResult] = []

    def good_at(rate: float) -> bool:
        step = measure(rate)
        steps.append(step)
        return holds(step)

    good: float | None = None
    bad: float | None = None
    if bracket is None:
        for rate in settings.rates():
            if good_at(rate):
                good = rate
            else:
                bad = rate
                break
        for _ in range(DESCENTS if good is None else 0):  # even the first rate broke it: step down
            rate = round(bad / settings.growth, 3)  # type: ignore[operator]
            if good_at(rate):
                good = rate
                break
            bad = rate
    else:
        good, bad = _rebracket(good_at, settings, *bracket)
    if good is not None and bad is not None:
        low, high = good, bad
        for _ in range(settings.refine_steps):
            middle = round((low + high) / 2, 3)
            low, high = (middle, high) if good_at(middle) else (low, middle)
        good, bad = low, high
    return SustainableRate(steps, good, bad)


def _rebracket(good_at: Callable[[float], bool], settings: RampSettings, good: float,
               bad: float | None) -> tuple[float | None, float | None]:
    """An earlier (good, bad) pair measured again: the bad end raised while it holds, the good
    end lowered while it does not, each by `growth`, within the ramp's range."""
    verified = False  # whether `good` was just measured to hold
    if bad is None:  # the earlier ramp never broke: does its top still hold?
        if good_at(good):
            return good, None
        bad, good = good, good / settings.growth
    else:
        while good_at(bad):
            good, bad, verified = bad, min(bad * settings.growth, settings.max_rate), True
            if good >= settings.max_rate:
                return good, None
    while not verified and not good_at(good):
        bad, good = good, good / settings.growth
        if good < settings.start_rate:
            return None, bad
    return good, bad


def cost_per_1k(rate: float | None, vcpus: float, memory_gb: float, price_vcpu_hour: float,
                price_gb_hour: float) -> float | None:
    """What 1,000 predictions cost at a sustainable `rate` on one instance of `vcpus` and
    `memory_gb`, at the given prices (in whatever currency they are in)."""
    if not rate or rate <= 0:
        return None
    hourly = vcpus * price_vcpu_hour + memory_gb * price_gb_hour
    return hourly / (rate * 3600) * 1000


def replicas_needed(peak_rate: float, rate: float | None) -> int | None:
    """Instances of one model needed to serve `peak_rate` when one holds `rate`."""
    if not rate or rate <= 0:
        return None
    return max(1, math.ceil(peak_rate / rate - 1e-9))
