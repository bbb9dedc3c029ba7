"""A capacity run's result as plain values: each model's sustainable rate over its repeats, its
use, cold start, memory growth, spike and cost, and the one sentence that concludes the run.

A model's rate is known as a range: each repeat's bisection ends between a rate that held and
one that did not, so the model holds at least the lowest held rate of its repeats and less than
the highest rate that broke. A rate within reach of the harness's ceiling, or a ramp that never
broke, has no upper end: "at least X". The gate's capacity rule (`gate/rules.py`) and the page
read these ranges, never a single figure alone.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field

import pandas as pd

from ..errors import ConfigurationError
from ..roles import CHALLENGER, CHAMPION
from .harness import Ceiling
from .ramp import Objective, StepResult, cost_per_1k, replicas_needed
from .spike import SpikeResult


@dataclass(frozen=True)
class Prices:
    """What an instance costs: per vCPU-hour and per GB-hour of memory, in `currency` (named by
    the user: there is no default currency)."""

    vcpu_hour: float
    gb_hour: float
    currency: str

    def __post_init__(self) -> None:
        for name, price in (("vCPU-hour", self.vcpu_hour), ("GB-hour", self.gb_hour)):
            if not (isinstance(price, (int, float)) and math.isfinite(price) and price >= 0):
                raise ConfigurationError(f"The price per {name} is {price!r}.",
                                         hint="Give a number of your currency, 0 or more, such as 0.05.")
        if not (isinstance(self.currency, str) and 0 < len(self.currency.strip()) <= 12):
            raise ConfigurationError("A price needs its currency, and none was given."
                                     if not str(self.currency).strip() else
                                     f"The currency {self.currency!r} is longer than 12 characters.",
                                     hint="Name it, for example --currency USD (there is no default currency).")

    def money(self, amount: float) -> str:
        return f"{amount:.3g} {self.currency}"


def median_rate(rates: list[float | None]) -> float | None:
    """The median of the repeats' sustainable rates (None when a repeat held none)."""
    held = [r for r in rates if r]
    return statistics.median(held) if held and len(held) == len(rates) else None


@dataclass(frozen=True)
class ModelCapacity:
    """One model's capacity over its repeats."""

    role: str
    version: str
    rates: list[float | None]  # each repeat's sustainable rate
    first_bad: list[float | None]  # each repeat's lowest rate that broke the objective
    steps: list[dict]  # every step, with its repeat
    cold_start_s: list[float]  # start to first answer, per repeat
    memory_growth_mb: float | None  # memory at the last step's end minus at the first's, the largest of the repeats
    harness_limited: bool
    vcpus: float | None  # the instance: the container's limits, or what the process used at its sustainable rate
    memory_gb: float | None
    sized_by: str  # "limits" or "use"
    image_mb: float | None = None
    spike: SpikeResult | None = None

    @property
    def rate(self) -> float | None:
        return median_rate(self.rates)

    @property
    def low(self) -> float:
        """The rate every repeat held (0 when one held none)."""
        return min((r or 0.0) for r in self.rates) if self.rates else 0.0

    @property
    def high(self) -> float:
        """The lowest rate above which no repeat held (inf: "at least")."""
        if self.harness_limited or any(b is None for b in self.first_bad):
            return math.inf
        return max(b for b in self.first_bad if b is not None)

    @property
    def spread(self) -> float | None:
        """The repeats' spread: (highest − lowest) / median of their sustainable rates."""
        held = [r for r in self.rates if r]
        rate = self.rate
        return (max(held) - min(held)) / rate if rate and len(held) > 1 else None

    def text(self) -> str:
        rate = self.rate
        if rate is None:
            return "no rate (even the first step broke the objective)"
        if self.harness_limited:
            return f"at least {rate:,.0f} req/s (the harness's limit)"
        if math.isinf(self.high):
            return f"at least {rate:,.0f} req/s (the ramp's top)"
        return f"{rate:,.0f} req/s"

    def cost_per_1k(self, prices: Prices | None) -> float | None:
        if prices is None or self.vcpus is None or self.memory_gb is None:
            return None
        return cost_per_1k(self.rate, self.vcpus, self.memory_gb, prices.vcpu_hour, prices.gb_hour)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["spike"] = self.spike.as_dict() if self.spike else None
        data.update(rate=self.rate, low=self.low, high=None if math.isinf(self.high) else self.high,
                    spread=self.spread, text=self.text())
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelCapacity:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["spike"] = SpikeResult.from_dict(data["spike"]) if data.get("spike") else None
        return cls(**fields)


@dataclass(frozen=True)
class CapacityResult:
    """A whole capacity run: both models under one backend, objective and harness."""

    capacity_id: str
    model_name: str
    backend: str
    objective: Objective
    ceiling: Ceiling | None
    models: dict[str, ModelCapacity]
    started_at: str
    duration_s: float
    settings: dict = field(default_factory=dict)  # the ramp's, the spike's and the repeats, as run
    prices: Prices | None = None
    peak_rate: float | None = None
    limits: dict = field(default_factory=dict)  # the containers' cpus and memory, when containers ran them

    def versions(self) -> dict[str, str]:
        return {role: m.version for role, m in self.models.items()}

    def ratio_range(self) -> tuple[float, float]:
        """The challenger's rate over the champion's: the lowest and highest the repeats allow."""
        champion, challenger = self.models[CHAMPION], self.models[CHALLENGER]
        low = challenger.low / champion.high if champion.high else math.nan
        high = challenger.high / champion.low if champion.low else math.inf
        return low, high

    def ratio(self) -> float | None:
        champion, challenger = self.models[CHAMPION].rate, self.models[CHALLENGER].rate
        return challenger / champion if champion and challenger else None

    def conclusion(self) -> str:
        """One sentence a stakeholder reads: both rates under the objective, their ratio, the cost."""
        champion, challenger = self.models[CHAMPION], self.models[CHALLENGER]
        objective = f"{self.objective.percentile} ≤ {self.objective.latency_ms:g} ms"
        ratio = self.ratio()
        sentence = (f"The challenger holds {challenger.text()} at {objective}, the champion {champion.text()}"
                    + (f" ({ratio:.2f}×)." if ratio and not (champion.harness_limited or challenger.harness_limited)
                       else "."))
        if self.prices is not None:
            costs = [m.cost_per_1k(self.prices) for m in (challenger, champion)]
            if all(c is not None for c in costs):
                sentence += (f" At {self.prices.money(self.prices.vcpu_hour)} per vCPU-hour and "
                             f"{self.prices.money(self.prices.gb_hour)} per GB-hour, 1,000 predictions cost "
                             f"{self.prices.money(costs[0])} and {self.prices.money(costs[1])}.")  # type: ignore[arg-type]
        if self.peak_rate:
            needed = [replicas_needed(self.peak_rate, m.rate) for m in (champion, challenger)]
            if all(needed):
                sentence += (f" To serve {self.peak_rate:,.0f} req/s at {objective}: champion {needed[0]} "
                             f"replica{'s' if needed[0] != 1 else ''}, challenger {needed[1]}.")
        return sentence

    def steps_frame(self) -> pd.DataFrame:
        """One row per step of each model: offered and achieved rate, percentiles with the p99's
        interval, errors, late sends and the server's use (the Capacity page's and report's charts)."""
        rows = []
        for role, model in self.models.items():
            for step in model.steps:
                p = step.get("percentiles") or {}
                use = step.get("resources") or {}
                rows.append({"model": role, "repeat": step.get("repeat", 1), "offered": step["rate"],
                             "achieved": step["achieved"], "sent": step["sent"],
                             **{f"{name}_ms": (p.get(name) or {}).get("estimate") for name in ("p50", "p95", "p99")},
                             "p99_low_ms": (p.get("p99") or {}).get("low"),
                             "p99_high_ms": (p.get("p99") or {}).get("high"),
                             "error_rate": sum((step.get("errors") or {}).values()) / step["sent"] if step["sent"]
                             else None, "late": step.get("late", 0), "cpu_cores": use.get("cpu_cores_mean"),
                             "memory_mb": use.get("memory_mb_peak"),
                             "meets": self._meets(step)})
        return pd.DataFrame(rows)

    def _meets(self, step: dict) -> bool:
        """A stored step (`StepResult.as_dict`) read back, judged by `StepResult.meets` itself."""
        fields = {k: v for k, v in step.items() if k in StepResult.__dataclass_fields__}
        return StepResult(**fields).meets(self.objective)

    def spike_frame(self) -> pd.DataFrame:
        """The spike, one row per second per model: its phase, requests sent, errors and p99."""
        rows = [{"model": role, **window} for role, model in self.models.items() if model.spike
                for window in model.spike.windows]
        return pd.DataFrame(rows, columns=["model", "second", "phase", "sent", "errors", "p99_ms"])

    def as_dict(self) -> dict:
        low, high = self.ratio_range()
        return {"capacity_id": self.capacity_id, "model_name": self.model_name, "backend": self.backend,
                "objective": asdict(self.objective), "ceiling": self.ceiling.as_dict() if self.ceiling else None,
                "models": {role: m.as_dict() for role, m in self.models.items()},
                "started_at": self.started_at, "duration_s": self.duration_s, "settings": self.settings,
                "prices": asdict(self.prices) if self.prices else None, "peak_rate": self.peak_rate,
                "limits": self.limits, "ratio": self.ratio(), "ratio_low": low,
                "ratio_high": None if math.isinf(high) else high,
                "cost_per_1k": {role: m.cost_per_1k(self.prices) for role, m in self.models.items()},
                "replicas_for_peak": ({role: replicas_needed(self.peak_rate, m.rate) for role, m in self.models.items()}
                                      if self.peak_rate else None),
                "conclusion": self.conclusion()}

    @classmethod
    def from_dict(cls, data: dict) -> CapacityResult:
        return cls(capacity_id=data["capacity_id"], model_name=data["model_name"], backend=data["backend"],
                   objective=Objective(**data["objective"]),
                   ceiling=Ceiling.from_dict(data["ceiling"]) if data.get("ceiling") else None,
                   models={role: ModelCapacity.from_dict(m) for role, m in data["models"].items()},
                   started_at=data["started_at"], duration_s=data["duration_s"], settings=data.get("settings") or {},
                   prices=Prices(**data["prices"]) if data.get("prices") else None, peak_rate=data.get("peak_rate"),
                   limits=data.get("limits") or {})
