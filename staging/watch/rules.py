"""What the watcher compares, and when: one `WatchRule` per model, checked whole before it listens.

A rule names the model, the traffic (a local file, or an `s3://`/fsspec URL of an object or a
prefix), optionally only its last N hours (`window_hours`, which for a SageMaker hourly tree
lists only those hours), a sample size, labels, a training reference and a policy file, and the
trigger: `challenger` (the @challenger alias set on a version, the default) or `version` (every
new version, compared as the challenger without moving any alias).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigurationError

TRIGGERS = ("challenger", "version")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, flag: str) -> float:
    """Seconds in `30s`, `15m`, `24h` or `7d`; one sentence naming `flag` when it is none of those."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(text or "").lower())
    if match is None or float(match.group(1)) <= 0:
        raise ConfigurationError(f"{flag} {text!r} is not a duration.",
                                 hint=f"Give a number and a unit: {flag} 24h (s, m, h or d).")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class WatchRule:
    """One watched model and the replay its comparison runs."""

    model: str
    traffic: str
    window_hours: float | None = None  # only the last N hours of the traffic
    requests: int | None = None  # a seeded sample of this many requests
    labels: str | None = None
    reference: str | None = None
    policy: str | None = None
    trigger: str = "challenger"

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ConfigurationError("The watcher needs the model it watches.", hint="Add --model NAME.")
        if not str(self.traffic).strip():
            raise ConfigurationError(f"The watcher has no traffic to compare '{self.model}' on.",
                                     hint="Add --traffic FILE or --traffic s3://BUCKET/PREFIX/.")
        if self.trigger not in TRIGGERS:
            raise ConfigurationError(f"--on {self.trigger} is not a trigger.",
                                     hint="Use --on challenger (the @challenger alias is set) or --on version "
                                          "(every new version).")
        if self.requests is not None and self.requests < 1:
            raise ConfigurationError(f"--requests {self.requests} is not a number of requests.",
                                     hint="Give a whole number above 0, or leave it out to replay every request.")

    def triggered_by(self, event: str, alias: str) -> bool:
        """Whether a registry event of this rule's model starts a comparison."""
        if self.trigger == "version":
            return event == "model_version.created"
        return event == "model_version_alias.created" and alias == "challenger"
