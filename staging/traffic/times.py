"""Request times read from whatever a traffic file holds: ISO 8601 text, a timestamp type of any
unit or zone, a date, or Unix epoch numbers (seconds, milliseconds, microseconds or nanoseconds,
told apart by their size, and said so). A duration is not a point in time: a column of them is
refused by name. A value that is not a time, or lies outside 1970–2100, becomes NaT, and
validation quarantines its row with the reason."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd

from ..errors import TrafficError

EARLIEST, LATEST = pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC")  # plausible
EPOCH_UNITS = ((1e11, "s", "seconds"), (1e14, "ms", "milliseconds"), (1e17, "us", "microseconds"),
               (math.inf, "ns", "nanoseconds"))  # 1e11 s is the year 5138; 1e11 ms is 1973


def epoch_unit(numbers: np.ndarray) -> tuple[str, str]:
    """(pandas unit, its name) for Unix epoch numbers, from the size of their median."""
    finite = np.abs(numbers[np.isfinite(numbers)])
    middle = float(np.median(finite)) if finite.size else 0.0
    return next(((unit, words) for edge, unit, words in EPOCH_UNITS if middle < edge), ("ns", "nanoseconds"))


def parse_times(values: pd.Series, column: str = "timestamp") -> tuple[pd.Series, str]:
    """(the values as UTC times, NaT where a value is not a plausible time; a note saying how
    numbers were read, "" when there were none)."""
    if pd.api.types.is_timedelta64_dtype(values) or _all_durations(values):
        raise TrafficError(f"The time column '{column}' holds durations ({values.dtype}), not points in time.",
                           hint="Give each request's time as ISO 8601 text or a timestamp, or leave the column out "
                                "(then the replay cannot be timed as recorded).")
    note = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": each value is judged on its own
        if pd.api.types.is_bool_dtype(values):
            times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        elif pd.api.types.is_numeric_dtype(values):
            times, note = _from_epoch(values.astype(float), column)
        elif pd.api.types.is_datetime64_any_dtype(values):
            times = pd.to_datetime(values, utc=True, errors="coerce")
        else:
            times, note = _mixed(values, column)
    times = pd.to_datetime(times, utc=True, errors="coerce")
    return times.where((times >= EARLIEST) & (times < LATEST)), note


def _from_epoch(numbers: pd.Series, column: str) -> tuple[pd.Series, str]:
    unit, words = epoch_unit(numbers.to_numpy(float))
    finite = numbers.where(np.isfinite(numbers))
    times = pd.to_datetime(finite, unit=unit, utc=True, errors="coerce")
    return times, f"{column}: numbers read as Unix time in {words} (from their size)"


def _mixed(values: pd.Series, column: str) -> tuple[pd.Series, str]:
    """Text, numbers and datetimes side by side, each read as what it is; anything else is NaT."""
    numeric = values.map(lambda v: isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_)).astype(bool)
    texts = values.map(lambda v: v if isinstance(v, str | dt.datetime | dt.date | pd.Timestamp) else None)
    try:
        times = pd.to_datetime(texts, errors="coerce", utc=True, format="mixed")
    except (ValueError, TypeError, OverflowError):
        times = pd.to_datetime(texts.map(lambda v: v if isinstance(v, str) else None), errors="coerce", utc=True,
                               format="mixed")
    if not numeric.any():
        return times, ""
    numbers = pd.to_numeric(values.where(numeric), errors="coerce").astype(float)
    epoch, note = _from_epoch(numbers, column)
    return times.where(~numeric, epoch), note


def _all_durations(values: pd.Series) -> bool:
    """Whether an object column's values are all durations (timedelta objects)."""
    if values.dtype != object:
        return False
    present = values.dropna()
    return bool(len(present)) and bool(present.map(lambda v: isinstance(v, dt.timedelta | pd.Timedelta)).all())
