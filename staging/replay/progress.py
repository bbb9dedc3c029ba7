"""Live counters of a replay, shared by the engine (which counts) and the handle (which reads)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class ReplayProgress:
    """Live counters, read by the UI while the replay writes them."""

    total: int
    started_at: float = field(default_factory=time.monotonic)
    completed: int = 0  # requests answered by every target they were sent to
    answers: int = 0
    errors: int = 0
    finished: bool = False
    status: str = "running"
    reason: str = ""

    @property
    def fraction(self) -> float:
        return self.completed / self.total if self.total else 1.0

    @property
    def throughput(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return self.answers / elapsed if elapsed > 0 else 0.0
