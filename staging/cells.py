"""Any value a user's file can hold, as text that never raises: an integer of any size, bytes
that are not UTF-8, NaN and ±inf, a list or a record, a Decimal. The quarantine is stored and
shown through this, so a row refused for holding something strange can always be read back."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

LONGEST_DIGITS = 30  # an integer longer than this is shown by its first digits and its length
LONGEST_TEXT = 2_000  # a cell's text is cut here (the row's reason says what was wrong with it)


def cell_text(value: Any) -> str:
    """`value` as text: exact where it can be (integers, Decimals, text), named where it cannot
    (bytes that are not UTF-8 as hex), "" for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return integer_text(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return "" if math.isnan(number) else ("inf" if number > 0 else "-inf") if math.isinf(number) else repr(number)
    if isinstance(value, Decimal):
        return str(value)[:LONGEST_TEXT]
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")[:LONGEST_TEXT]
        except UnicodeDecodeError:
            more = " …" if len(raw) > 16 else ""
            return f"binary data, {len(raw):,} byte{'s' if len(raw) != 1 else ''}: {raw[:16].hex(' ')}{more}"
    if isinstance(value, str):
        return value[:LONGEST_TEXT]
    try:
        return str(value)[:LONGEST_TEXT]
    except Exception:  # noqa: BLE001 - an object whose str() fails is still shown, by its type
        return f"<{type(value).__name__}>"


def integer_text(number: int) -> str:
    """An integer exactly, or, past `LONGEST_DIGITS` digits, its first digits and how many there are."""
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if magnitude.bit_length() <= 100:  # up to about 30 digits: exact
        return f"{number}"
    if magnitude.bit_length() >= 13_000:  # past what Python turns into text at once (4,300 digits)
        return f"{sign}an integer of about {int(magnitude.bit_length() * 0.30103) + 1:,} digits"
    text = str(magnitude)
    return f"{sign}{text[:12]}… ({len(text):,} digits)"
