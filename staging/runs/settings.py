"""How a replay runs: the mode, the timing and their options, as one frozen value.

`ReplaySettings` is written into each run's manifest and read back by the worker; it
refuses combinations that cannot work when it is made, so bad settings are found before
anything starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigurationError

MODES = ("shadow", "canary", "ab")
TIMINGS = ("max", "recorded", "rate")
DEFAULT_CANARY_STEPS = (5, 25, 50, 100)


@dataclass(frozen=True)
class ReplaySettings:
    mode: str = "shadow"  # shadow, canary or ab (see plan)
    concurrency: int = 2  # timing "max": requests in flight at once (each goes to every target)
    timeout_s: float = 30.0
    warmup_requests: int = 5
    timing: str = "max"  # max, recorded (with `speed`) or rate (open loop at `rate_per_s`)
    speed: float = 1.0
    rate_per_s: float = 50.0
    canary_steps: tuple[int, ...] = DEFAULT_CANARY_STEPS
    canary_max_error_rate: float = 0.02
    canary_max_p95_ratio: float = 1.5
    canary_min_answers: int | None = None  # challenger answers a step needs to be judged (None: the policy's)
    split_key: str | None = None  # ab: the column whose hash picks the model (default: the request id)
    challenger_share: float = 0.5  # ab: the share of keys that meet the challenger
    batch_size: int = 1  # rows per request: above 1, batch mode, for bulk comparison of large files
    score_column: str | None = None  # the answer's column holding the positive-class probability, when named

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.timing not in TIMINGS:
            problems.append(f"timing {self.timing!r} is not one of {', '.join(TIMINGS)}")
        if self.concurrency < 1 or self.batch_size < 1 or self.timeout_s <= 0 or self.speed <= 0 or self.rate_per_s <= 0:
            problems.append("concurrency, batch size, timeout, speed and rate must all be above 0")
        if not 0 <= self.challenger_share <= 1:
            problems.append("the challenger's share must be between 0 and 1")
        if self.canary_min_answers is not None and self.canary_min_answers < 1:
            problems.append("a canary step needs at least 1 answer to be judged")
        if not self.canary_steps or any(not 0 < s <= 100 for s in self.canary_steps):
            problems.append("canary steps must be percentages between 1 and 100")
        if problems:
            raise ConfigurationError("The replay settings cannot be used: " + "; ".join(problems) + ".",
                                     hint="Correct the settings and start the replay again; nothing was sent.")
        object.__setattr__(self, "canary_steps", tuple(int(s) for s in self.canary_steps))

    def as_dict(self) -> dict:
        return {**asdict(self), "canary_steps": list(self.canary_steps)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplaySettings:
        """Settings as a manifest stored them; keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "canary_steps" in values:
            values["canary_steps"] = tuple(values["canary_steps"])
        return cls(**values)
