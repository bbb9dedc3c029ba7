"""One way to turn the sandbox's values into plain JSON: NaN and infinities become null,
numpy scalars plain numbers, tables lists of records, anything else its text. The gate's
verdict, the report's evidence file and the command line's summaries all use it."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.reset_index().to_dict("records") if value.index.name else value.to_dict("records"))
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
