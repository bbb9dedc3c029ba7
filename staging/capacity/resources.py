"""What a model server uses while it is measured: CPU (in cores) and resident memory of its
process and every child (MLflow's server forks gunicorn or uvicorn workers), sampled in the
background with psutil while a step runs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    """A step's use: mean and peak CPU in cores, and resident memory at its end and peak, in MB."""

    cpu_cores_mean: float
    cpu_cores_peak: float
    memory_mb_end: float
    memory_mb_peak: float
    samples: int


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu_seconds_and_rss(processes: list[psutil.Process]) -> tuple[float, float]:
    cpu = rss = 0.0
    for process in processes:
        try:
            times, memory = process.cpu_times(), process.memory_info()
        except psutil.Error:  # a worker that exited between the listing and the reading
            continue
        cpu += times.user + times.system
        rss += memory.rss
    return cpu, rss / 2**20


class ProcessTreeSampler:
    """Samples a process tree every `interval_s` from `start()` to `stop()`, which returns the `Usage`."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid, self.interval_s = pid, interval_s
        self._stop = threading.Event()
        self._points: list[tuple[float, float, float]] = []  # (wall time, cpu seconds, rss MB)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            cpu, rss = _cpu_seconds_and_rss(_tree(self.pid))
            self._points.append((time.perf_counter(), cpu, rss))
            if self._stop.wait(self.interval_s):
                cpu, rss = _cpu_seconds_and_rss(_tree(self.pid))
                self._points.append((time.perf_counter(), cpu, rss))
                return

    def start(self) -> ProcessTreeSampler:
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
