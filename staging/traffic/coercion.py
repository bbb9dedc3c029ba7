"""A value in a user's file read as the model's input type, exactly or not at all: whole numbers
exactly as written whatever the column was read as (a CSV's text, a float, a Decimal, JSON's
big integers), inside the type's range (int64 for long, int32 for integer, float32's for float),
never rounded; text that is UTF-8 and one value, never a list or a record; a key kept beside a
request (an A/B split key, an event id) as plain text. Each function says which rows failed, so
that validation quarantines them with a reason."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from ..cells import cell_text
from .formats import plain_id

NUMERIC_KINDS = {"double", "float", "long", "integer"}
INTEGER_RANGES = {"long": (-(2**63), 2**63), "integer": (-(2**31), 2**31)}  # [low, high) of int64, int32
FLOAT32_MAX = float(np.finfo(np.float32).max)
NOT_VALID = {"long": "not a whole number inside a 64-bit integer (long)",
             "integer": "not a whole number inside a 32-bit integer (integer)",
             "float": "not a finite number inside a 32-bit float (float)",
             "double": "not a finite number (double)"}


def coerce(column: pd.Series, kind: str) -> tuple[pd.Series, pd.Series, bool]:
    """(values in the signature's type `kind`, rows whose value could not be converted, whether it
    was converted)."""
    if kind in INTEGER_RANGES:
        return _exact_integers(column, *INTEGER_RANGES[kind])
    if kind in NUMERIC_KINDS:
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.astype(float)
            converted = False
        else:
            values = pd.to_numeric(column.map(_text_or_none), errors="coerce")
            converted = True
        failed = column.notna() & values.isna()
        failed |= np.isinf(values)  # ±inf is not a number a model can be sent (JSON has no Infinity)
        if kind == "float":  # past float32's range, the model would read infinity
            failed |= values.abs() > FLOAT32_MAX
        return values.where(~failed), failed, converted
    if kind == "boolean":
        mapped = column.map(lambda v: v if isinstance(v, bool) else {"true": True, "false": False}.get(
            cell_text(v).lower()))
        return mapped, column.notna() & mapped.isna(), not pd.api.types.is_bool_dtype(column)
    nested = column.map(lambda v: isinstance(v, (list, dict, tuple, set, np.ndarray))).astype(bool)
    undecodable = column.map(lambda v: isinstance(v, bytes) and _utf8(v) is None).astype(bool)
    values = column.map(lambda v: None if _is_missing(v) else _utf8(v) if isinstance(v, bytes) else str(v))
    failed = nested | undecodable  # a list or record is not one text value; bytes must be UTF-8 text
    return values.astype(object).where(~failed, None), failed, not pd.api.types.is_string_dtype(column)


def _exact_integers(column: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series, bool]:
    """Whole numbers exactly as the file held them, in a nullable 64-bit integer column; a value
    that is not a whole number, or lies outside [low, high), fails (it is never rounded)."""
    present = column.notna()
    if pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column):
        failed = present & ((column < low) | (column >= high))
        if not failed.any():
            return column.astype("Int64"), failed, False
        return pd.Series(pd.array([None if bad else int(v) for v, bad in zip(column.tolist(), failed)],
                                  dtype="Int64"), index=column.index), failed, False
    if pd.api.types.is_float_dtype(column):  # the float is the value the file holds: whole and in range, exact
        numbers = column.to_numpy(float)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (numbers >= low) & (numbers < high)
        failed = present & ~whole
        return column.where(whole).astype("Int64"), failed, False
    text = pd.api.types.is_string_dtype(column)  # a CSV's integers, read as the text they are (no change)
    size = len(column)
    ints, missing, failed = np.zeros(size, dtype="int64"), np.ones(size, dtype=bool), np.zeros(size, dtype=bool)
    plain = (column.str.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*").fillna(False).to_numpy(bool) if text else
             np.zeros(size, dtype=bool))
    if plain.any():  # up to 18 digits: inside int64 whatever they spell, parsed exactly in one pass
        ints[plain] = pd.to_numeric(column[plain].str.strip()).to_numpy("int64")
        missing[plain] = False
    rest = np.flatnonzero(present.to_numpy(bool) & ~plain)  # "36.0", "1e3", huge, words, lists: one at a time
    for position, value in zip(rest, column.iloc[rest].tolist()):
        number = _exact_integer(value)
        if number is None:
            continue
        if number is _NOT_AN_INTEGER or not low <= number < high:
            failed[position] = True
            continue
        ints[position], missing[position] = number, False
    outside = plain & ((ints < low) | (ints >= high))  # an int32 input: 18 digits need not fit
    failed |= outside
    missing |= outside
    values = pd.Series(pd.arrays.IntegerArray(ints, missing), index=column.index)
    return values, pd.Series(failed, index=column.index), not text


_NOT_AN_INTEGER = object()
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,40}")
_LONGEST_INTEGER_TEXT = 60  # characters: anything longer is past 64 bits, whatever it spells


def _exact_integer(value):
    """A whole number exactly (text, an int, an integral float or Decimal), None for a missing
    value, `_NOT_AN_INTEGER` for anything else (a fraction, a word, a list, a boolean)."""
    if _is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return _NOT_AN_INTEGER
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return int(value) if np.isfinite(value) and float(value).is_integer() else _NOT_AN_INTEGER
    if isinstance(value, bytes):
        value = _utf8(value)
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else _NOT_AN_INTEGER
    if not isinstance(value, str):
        return _NOT_AN_INTEGER
    text = value.strip()
    if len(text) > _LONGEST_INTEGER_TEXT:
        return 2**64  # past any integer type the sandbox sends: refused by the range check
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    try:
        number = Decimal(text)  # "36.0", "1e3": whole numbers written another way
    except InvalidOperation:
        return _NOT_AN_INTEGER
    if not number.is_finite() or abs(number.adjusted()) > 40:
        return _NOT_AN_INTEGER if not number.is_finite() else 2**64
    return int(number) if number == number.to_integral_value() else _NOT_AN_INTEGER


def _utf8(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def plain_key(value) -> str | None:
    """A value kept beside a request (an A/B split key, an event id) as text; None for a missing
    one or one that is not a plain value."""
    if isinstance(value, (list, dict, tuple, set, np.ndarray)) or _is_missing(value):
        return None
    if isinstance(value, bytes):
        return _utf8(value)
    return plain_id(value) if isinstance(value, int | np.integer | float | np.floating | Decimal) else cell_text(value)


def _text_or_none(value):
    if _is_missing(value):
        return None
    if isinstance(value, bytes):
        value = _utf8(value)
        if value is None:
            return "not-a-number"
    text = str(value).strip()
    return text if text else "not-a-number"


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def describe(column: pd.Series) -> str:
    """What a mistyped column holds, in words that never fail to print (bytes, records, lists)."""
    sample = column.dropna().head(2).tolist()
    if not sample:
        return str(column.dtype)
    if all(isinstance(v, bytes) for v in sample):
        return "binary data, not UTF-8 text, such as bytes " + ", ".join(v[:8].hex(" ") for v in sample)
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in sample):
        return "lists such as " + ", ".join(repr(cell_text(v)[:40]) for v in sample)
    if all(isinstance(v, dict) for v in sample):
        return "records such as " + ", ".join(repr(cell_text(v)[:40]) for v in sample)
    return f"{column.dtype} such as {', '.join(repr(cell_text(v)[:40]) for v in sample)}"
