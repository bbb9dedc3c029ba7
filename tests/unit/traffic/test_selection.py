"""Which recorded requests a replay sends: the time window, the share by id and the seeded sample (traffic/selection.py)."""


import pandas as pd

from staging import TrafficSelection
from staging.traffic.selection import select_requests


def test_time_window_and_sample_are_applied_in_recorded_order():
    requests = pd.DataFrame({"request_id": [f"q{i}" for i in range(10)],
                             "timestamp": pd.date_range("2026-10-01", periods=10, freq="D", tz="UTC")})
    chosen = select_requests(requests, TrafficSelection(sample_size=3, start=pd.Timestamp("2026-10-03"),
                                                        end=pd.Timestamp("2026-10-08"), seed=1))
    assert len(chosen) == 3
    assert chosen["timestamp"].is_monotonic_increasing
    assert chosen["timestamp"].min() >= pd.Timestamp("2026-10-03", tz="UTC")
    assert chosen["timestamp"].max() < pd.Timestamp("2026-10-08", tz="UTC")
