"""Which recorded requests a replay sends: a time window, a share chosen by a hash of the
request id, and a seeded sample of a fixed size, as one frozen `TrafficSelection`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TrafficSelection:
    sample_size: int | None = None  # None: every request in the window
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    seed: int = 0
    sample_percent: float | None = None  # keep this share of requests, chosen by a hash of their id

    @property
    def sampled_while_reading(self) -> int | None:
        """The rows a file may be sampled to while it is read: the sample's size, when the selection
        is a plain seeded sample (a time window or a percentage needs every row seen first)."""
        plain = self.start is None and self.end is None and self.sample_percent is None
        return self.sample_size if plain and self.sample_size else None


def stable_share(keys) -> np.ndarray:
    """Each key as a number in [0, 1) from its SHA-1: the same key gives the same number in
    every process (Python's hash() does not), so selections and splits are reproducible."""
    return np.array([int.from_bytes(hashlib.sha1(str(k).encode()).digest()[:8], "big") / 2**64 for k in keys])


def select_requests(requests: pd.DataFrame, selection: TrafficSelection) -> pd.DataFrame:
    """Requests inside the time window, then a percentage chosen by a hash of the request id
    (the same requests every time, as GoReplay's percentage), then a seeded random sample of
    a fixed size; in recorded order."""
    chosen = requests
    times = requests["timestamp"]
    if selection.start is not None and times.notna().any():
        chosen = chosen[times.loc[chosen.index] >= _utc(selection.start)]
    if selection.end is not None and times.notna().any():
        chosen = chosen[times.loc[chosen.index] < _utc(selection.end)]
    if selection.sample_percent is not None and selection.sample_percent < 100:
        chosen = chosen[stable_share(chosen["request_id"]) < selection.sample_percent / 100]  # by hash of the id
    if selection.sample_size is not None and selection.sample_size < len(chosen):
        chosen = chosen.sample(n=selection.sample_size, random_state=selection.seed).sort_index()
    return chosen.reset_index(drop=True)


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
