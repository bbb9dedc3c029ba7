"""The spike: a base rate, a jump to a multiple of it for a set time, then the base again.

The schedule is open-loop like every step (`load`), so the queue a spike leaves is seen in the
latencies after it. The summary reads the answers in one-second windows by due time: the
base's p99 before the spike, the errors and the worst p99 during it and after it, and the time
from the spike's end to the first window from which every later window is back within the
base's p99 (with a tolerance: 1.5× the base p99, and at least 5 ms over it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..analytics.latency import answered
from ..errors import ConfigurationError

RECOVERY_FACTOR = 1.5
RECOVERY_MIN_MS = 5.0


@dataclass(frozen=True)
class SpikeSettings:
    """`multiple` times the base rate for `spike_s` seconds, after `before_s` and before `after_s`
    seconds at the base rate. `base_rate` None: a fifth of the lower sustainable rate of the two
    models (`run.spike_base`), so that a tenfold spike is twice what the weaker one holds."""

    multiple: float = 10.0
    base_rate: float | None = None
    before_s: float = 3.0
    spike_s: float = 4.0
    after_s: float = 12.0

    def __post_init__(self) -> None:
        checks = [(self.multiple > 1, "the spike's multiple must be above 1"),
                  (self.base_rate is None or (math.isfinite(self.base_rate) and self.base_rate > 0),
                   "the spike's base rate must be above 0 requests a second"),
                  (min(self.before_s, self.spike_s, self.after_s) >= 1,
                   "the spike's phases must each last at least a second")]
        for ok, why in checks:
            if not ok:
                raise ConfigurationError(f"The spike cannot run: {why}.",
                                         hint="See python -m staging capacity --help for the spike's options.")

    def schedule(self, base_rate: float) -> np.ndarray:
        """Due times, seconds from the start: base, spike, base."""
        peak = base_rate * self.multiple
        parts = [np.arange(0, self.before_s, 1 / base_rate),
                 self.before_s + np.arange(0, self.spike_s, 1 / peak),
                 self.before_s + self.spike_s + np.arange(0, self.after_s, 1 / base_rate)]
        return np.concatenate(parts)


@dataclass(frozen=True)
class SpikeResult:
    """One model's spike: the rates, the errors while it lasted, the worst p99 it caused, and how
    long after it ended the p99 came back to the base's (None: not within the run)."""

    base_rate: float
    peak_rate: float
    base_p99_ms: float
    sent_during: int
    errors_during: int
    worst_p99_ms: float
    recovery_s: float | None
    windows: list[dict] = field(default_factory=list)  # second, phase, sent, errors, p99_ms

    @property
    def error_rate_during(self) -> float:
        return self.errors_during / self.sent_during if self.sent_during else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "error_rate_during": self.error_rate_during}

    @classmethod
    def from_dict(cls, data: dict) -> SpikeResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _window_p99(frame: pd.DataFrame) -> float:
    ok = answered(frame)
    return float(np.percentile(frame.loc[ok, "latency_ms"], 99)) if ok.any() else float("nan")


def summarize_spike(answers: pd.DataFrame, settings: SpikeSettings, base_rate: float) -> SpikeResult:
    """The spike's answers (`Sender.send`'s frame of `settings.schedule(base_rate)`) summarized."""
    end_of_spike = settings.before_s + settings.spike_s
    second = np.floor(answers["due_s"].to_numpy(float)).astype(int)
    failed = ~answered(answers)
    windows: list[dict[str, Any]] = []
    for s in range(int(math.ceil(end_of_spike + settings.after_s))):
        frame = answers[second == s]
        phase = "before" if s < settings.before_s else "spike" if s < end_of_spike else "after"
        windows.append({"second": s, "phase": phase, "sent": len(frame), "errors": int(failed[second == s].sum()),
                        "p99_ms": _window_p99(frame) if len(frame) else float("nan")})
    # the base: the settled part of the first phase (its first second may carry a cold connection)
    before = answers[(answers["due_s"] >= min(1.0, settings.before_s / 2)) & (answers["due_s"] < settings.before_s)]
    base_p99 = _window_p99(before)
    during = (answers["due_s"] >= settings.before_s) & (answers["due_s"] < end_of_spike)
    after = answers["due_s"] >= end_of_spike
    p99s = [float(w["p99_ms"]) for w in windows if w["phase"] != "before"]
    worst = max((p for p in p99s if math.isfinite(p)), default=float("nan"))
    recovery = None
    if math.isfinite(base_p99):
        bound = max(base_p99 * RECOVERY_FACTOR, base_p99 + RECOVERY_MIN_MS)
        after_windows = [w for w in windows if w["phase"] == "after"]
        for position, window in enumerate(after_windows):
            rest = after_windows[position:]
            if all(math.isfinite(float(w["p99_ms"])) and float(w["p99_ms"]) <= bound and not w["errors"]
                   for w in rest):
                recovery = float(window["second"]) - end_of_spike
                break
    return SpikeResult(base_rate=float(base_rate), peak_rate=float(base_rate * settings.multiple),
                       base_p99_ms=base_p99, sent_during=int(during.sum()),
                       errors_during=int((failed & during.to_numpy()).sum()),
                       worst_p99_ms=worst, recovery_s=recovery if after.any() else None, windows=windows)
