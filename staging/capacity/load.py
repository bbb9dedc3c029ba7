"""The open-loop load: requests sent to one model server at a fixed arrival rate.

Request i is due at start + i / rate and leaves then, whether or not earlier ones have
answered (k6's and wrk2's constant arrival rate), so a slow server cannot slow the sender and
hide its own queue (coordinated omission). Each latency counts from the due time; `late_ms` is
how long after its due time a request actually left, and a request that left late beyond a
margin is counted by the step as the sender's, not the model's, shortfall. Bodies are the
recorded requests' bodies, cycled.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pandas as pd

SPIN_S = 0.002  # how long before a due time the sender stops sleeping and polls


async def _send_all(url: str, bodies: list[bytes], rate: float, duration_s: float, timeout_s: float,
                    headers: dict[str, str]) -> list[dict]:
    count = max(1, int(round(rate * duration_s)))
    rows: list[dict] = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        async def one(index: int, due: float) -> None:
            sent = time.perf_counter()
            row = {"index": index, "late_ms": (sent - due) * 1000, "status": 0, "error": ""}
            try:
                async with session.post(url, data=bodies[index % len(bodies)]) as response:
                    await response.read()
                    row["status"] = response.status
            except TimeoutError:
                row["error"] = "timeout"
            except aiohttp.ClientError as exc:
                row["error"] = type(exc).__name__
            done = time.perf_counter()
            row["latency_ms"], row["service_ms"] = (done - due) * 1000, (done - sent) * 1000
            rows.append(row)

        start = time.perf_counter() + 0.05
        tasks = []
        for index in range(count):
            due = start + index / rate
            wait = due - time.perf_counter()
            if wait > SPIN_S:
                await asyncio.sleep(wait - SPIN_S)
            while time.perf_counter() < due:
                await asyncio.sleep(0)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
    return rows


def send_at_rate(url: str, bodies: list[bytes], rate: float, duration_s: float, timeout_s: float = 10.0,
                 headers: dict[str, str] | None = None) -> pd.DataFrame:
    """Send `rate` requests a second for `duration_s` seconds to `url`; one row per request:
    index, late_ms, status, error, latency_ms (from its due time), service_ms (from its send)."""
    rows = asyncio.run(_send_all(url, bodies, rate, duration_s, timeout_s,
                                 headers or {"Content-Type": "application/json"}))
    return pd.DataFrame(rows, columns=["index", "late_ms", "status", "error", "latency_ms", "service_ms"]) \
        .sort_values("index").reset_index(drop=True)
