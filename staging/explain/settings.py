"""What an explanation explains and what it may spend: rows, background, time and scale.

Checked when built, before any request is sent: a bad value is refused in one sentence that
says what is allowed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigurationError

PROBABILITY, LOG_ODDS = "probability", "log-odds"
SCALES = (PROBABILITY, LOG_ODDS)
MAX_ROWS = 5_000
MAX_BACKGROUND = 500


@dataclass(frozen=True)
class ExplainSettings:
    """`disagreements`: at most this many disagreeing requests (all of them when fewer);
    `others`: a random sample of this many agreeing requests; `background`: rows of the training
    reference masked features are drawn from; `time_limit_s`: the explanation stops there,
    keeping the rows done; `scale`: a classifier's output as a probability or its log-odds
    (the margin, where a linear model's attributions are exact)."""

    disagreements: int = 300
    others: int = 200
    background: int = 25
    time_limit_s: float = 600.0
    scale: str = PROBABILITY
    permutations: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low, high in (("disagreements", 0, MAX_ROWS), ("others", 0, MAX_ROWS),
                                ("background", 1, MAX_BACKGROUND), ("permutations", 1, 20)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(f"An explanation's {name} must be a whole number from {low} to {high}; "
                                         f"got {value!r}.", hint="Choose a number in that range.")
        if self.disagreements + self.others < 1:
            raise ConfigurationError("An explanation needs at least one row: disagreements and others are both 0.",
                                     hint="Explain some disagreements, some other requests, or both.")
        if not isinstance(self.time_limit_s, (int, float)) or not 1 <= float(self.time_limit_s) <= 24 * 3600:
            raise ConfigurationError(f"An explanation's time limit must be 1 s to 24 h; got {self.time_limit_s!r}.",
                                     hint="Give the seconds it may take, for example 300.")
        if self.scale not in SCALES:
            raise ConfigurationError(f"An explanation's scale is {' or '.join(SCALES)}; got {self.scale!r}.",
                                     hint="log-odds explains a classifier's margin; probability its probability.")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ExplainSettings:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})
