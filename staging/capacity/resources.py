"""What a model server uses while it is measured: CPU in cores and memory in MB, from readings
of its cumulative CPU seconds and its memory taken in the background while a step runs.

The readings come from the backend that runs it (`Backend.usage`): a local process's whole tree
(MLflow's server forks uvicorn workers) through psutil, a container's cgroup through the
engine's stats.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Reading = tuple[float, float]  # (cumulative CPU seconds, memory MB) now
Reader = Callable[[], Reading | None]


@dataclass(frozen=True)
class Usage:
    """A step's use: mean and peak CPU in cores, and memory at its end and peak, in MB."""

    cpu_cores_mean: float
    cpu_cores_peak: float
    memory_mb_end: float
    memory_mb_peak: float
    samples: int


class UsageSampler:
    """Reads `read()` every `interval_s` from `start()` to `stop()`, which returns the `Usage`."""

    def __init__(self, read: Reader, interval_s: float = 0.25) -> None:
        self.read, self.interval_s = read, interval_s
        self._stop = threading.Event()
        self._points: list[tuple[float, float, float]] = []  # (wall time, cpu seconds, memory MB)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            reading = self.read()
        except Exception:  # noqa: BLE001 - a reading that fails (a container gone) is a gap, never a crash
            reading = None
        if reading is not None:
            self._points.append((time.monotonic(), *reading))

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval_s):
                self._sample()
                return

    def start(self) -> UsageSampler:
        self._thread.start()
        return self

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join()
        points = self._points
        if len(points) < 2:
            return Usage(float("nan"), float("nan"), float("nan"), float("nan"), len(points))
        rates = [(c2 - c1) / (t2 - t1) for (t1, c1, _), (t2, c2, _) in zip(points, points[1:]) if t2 > t1]
        elapsed = points[-1][0] - points[0][0]
        return Usage(cpu_cores_mean=(points[-1][1] - points[0][1]) / elapsed if elapsed > 0 else float("nan"),
                     cpu_cores_peak=max(rates, default=float("nan")), memory_mb_end=points[-1][2],
                     memory_mb_peak=max(p[2] for p in points), samples=len(points))
