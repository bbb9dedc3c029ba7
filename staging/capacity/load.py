"""The open-loop load: requests sent to one model server on a fixed schedule.

Request i is due at start + due_s[i] and leaves then, whether or not earlier ones have
answered (k6's and wrk2's constant arrival rate), so a slow server cannot slow the sender and
hide its own queue (coordinated omission). Each latency counts from the due time; `late_ms` is
how long after its due time a request actually left, and a request that left late beyond a
margin is counted by the step as the sender's, not the model's, shortfall. Bodies are the
recorded requests' bodies, cycled.

One process sends up to `SHARD_RATE` requests a second; above it `Sender` spreads the schedule
over worker processes (spawned once per sender, each on its own event loop, at most one per core
but the one the server needs), sharded by a hash of the request's index, all timed on the
machine's one monotonic clock.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from .wire import ERRORS, OpenLoopSender, request_bytes

SHARD_RATE = 8000.0  # requests a second one sending process keeps on time here (bench/capacity.py: about 9,000)
COLUMNS = ["index", "late_ms", "status", "error", "latency_ms", "service_ms", "due_s"]


def at_rate(rate: float, duration_s: float) -> np.ndarray:
    """The due times (seconds from the start) of `rate` requests a second for `duration_s`."""
    return np.arange(max(1, int(round(rate * duration_s)))) / rate


async def _send_all(url: str, bodies: list[bytes], due_s: np.ndarray, indices: np.ndarray, start: float,
                    timeout_s: float, headers: dict[str, str]) -> dict[str, np.ndarray]:
    sender = OpenLoopSender(url, [request_bytes(url, body, headers) for body in bodies], timeout_s)
    shot = await sender.run(indices, start + due_s[indices], len(due_s))
    due = start + due_s[indices]
    return {"index": indices, "late_ms": (shot.sent[indices] - due) * 1000, "status": shot.status[indices],
            "error": np.array(ERRORS, dtype=object)[shot.error[indices]], "latency_ms": (shot.done[indices] - due) * 1000,
            "service_ms": (shot.done[indices] - shot.sent[indices]) * 1000, "due_s": due_s[indices]}


def _run(coroutine):
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned; asyncio's loop works the same, slower
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _send_shard(url: str, bodies: list[bytes], due_s: np.ndarray, indices: np.ndarray, start: float,
                timeout_s: float, headers: dict[str, str]) -> dict[str, np.ndarray]:
    return _run(_send_all(url, bodies, due_s, indices, start, timeout_s, headers))


def shard_of(indices: np.ndarray, shards: int) -> np.ndarray:
    """Which shard sends each request: a stable hash of its index (CRC-32), so a shard's requests
    are spread over the whole schedule rather than bunched."""
    return np.array([zlib.crc32(int(i).to_bytes(8, "little")) % shards for i in indices], dtype=int)


def spare_cores() -> int:
    """The cores a sender may take: all but one, which the server under test needs (on two cores a
    second sending process slowed the stub more than it helped: bench/capacity.py)."""
    return max(1, (os.cpu_count() or 1) - 1)


def shards_for(rate: float, cores: int | None = None) -> int:
    """How many sending processes a peak of `rate` requests a second needs: one per `SHARD_RATE`,
    at most one per spare core."""
    return max(1, min(cores or spare_cores(), math.ceil(rate / SHARD_RATE)))


def _frame(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    frames = [pd.DataFrame(part, columns=COLUMNS) for part in parts]
    return pd.concat(frames, ignore_index=True).sort_values("index").reset_index(drop=True)


class Sender:
    """Sends schedules to servers, in this process or, for rates one process cannot keep, over
    worker processes started on first need and kept until `close()` (it is a context manager)."""

    def __init__(self, timeout_s: float = 10.0, max_shards: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.max_shards = max_shards or spare_cores()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def send(self, url: str, bodies: list[bytes], due_s: np.ndarray, headers: dict[str, str] | None = None,
             shards: int | None = None) -> pd.DataFrame:
        """Send request i at `due_s[i]` seconds from now (plus a short lead) to `url`; one row per
        request: index, late_ms, status, error, latency_ms (from its due time), service_ms (from its
        send) and due_s. `shards`: sending processes (default: as the peak rate needs)."""
        headers = headers or {"Content-Type": "application/json"}
        due_s = np.asarray(due_s, dtype=float)
        peak = _peak_rate(due_s)
        shards = min(self.max_shards, shards or shards_for(peak, self.max_shards))
        indices = np.arange(len(due_s))
        if shards <= 1:
            return _frame([_run(_send_all(url, bodies, due_s, indices, time.monotonic() + 0.05, self.timeout_s,
                                          headers))])
        if self._pool is None:  # spawned, not forked: the app's threads and sockets stay behind
            self._pool = ProcessPoolExecutor(self.max_shards, mp_context=multiprocessing.get_context("spawn"))
            list(self._pool.map(_ready, range(self.max_shards)))
        which = shard_of(indices, shards)
        start = time.monotonic() + 0.3  # time for every shard to receive its part before the first is due
        futures = [self._pool.submit(_send_shard, url, bodies, due_s, indices[which == k], start, self.timeout_s,
                                     headers) for k in range(shards)]
        return _frame([future.result() for future in futures])


def _ready(_: int) -> bool:
    import httptools  # noqa: F401 - loaded before the first step, so no shard starts late on its import

    return True


def _peak_rate(due_s: np.ndarray) -> float:
    """The schedule's highest rate over any one second."""
    if len(due_s) < 2:
        return 1.0
    counts = np.searchsorted(due_s, due_s + 1.0) - np.arange(len(due_s))
    return float(counts.max())


def send_at_rate(url: str, bodies: list[bytes], rate: float, duration_s: float, timeout_s: float = 10.0,
                 headers: dict[str, str] | None = None) -> pd.DataFrame:
    """`rate` requests a second for `duration_s` seconds to `url`, from this process."""
    with Sender(timeout_s, max_shards=1) as sender:
        return sender.send(url, bodies, at_rate(rate, duration_s), headers)
