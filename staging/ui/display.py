"""Tables as a stakeholder reads them: columns named in words, every number with its unit or
its precision, and a missing value as "—", never `nan`, `None` or `inf`.

`readable(frame)` is applied to every table a page shows; `number(value)` to numbers in
sentences. Column names not listed in `WORDS` are shown with their underscores as spaces.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ..cells import cell_text
from ..traffic.formats import MALFORMED_LINE, MALFORMED_REASON, REQUEST_GROUP

MISSING = "—"
WORDS = {
    "error_rate": "error rate", "error_rate_low": "error rate, 95% low", "error_rate_high": "error rate, 95% high",
    "p50_ms": "p50 (ms)", "p90_ms": "p90 (ms)", "p95_ms": "p95 (ms)", "p99_ms": "p99 (ms)", "max_ms": "max (ms)",
    "q_value": "adjusted p (q)", "p_value": "p-value", "uptime_s": "up for (s)", "cpu_percent": "CPU (% of a core)",
    "memory_mb": "memory (MB)", "memory_limit_mb": "memory limit (MB)", "challenger_worse": "challenger worse",
    "evidently_drifted": "Evidently's rule: drifted", "drifted": "drifted (sandbox)", "why": "why they differ",
    "psi": "PSI", "effect": "effect size", "noise": "noise (95% of samples)", "roc_auc": "ROC AUC",
    "log_loss": "log loss", "f1": "F1", "mae": "MAE", "rmse": "RMSE", "r2": "R²", "reference_mean": "mean on training data",
    "current_mean": "mean on the traffic", "challenger_answers": "challenger answers",
    "challenger_error_rate": "challenger error rate", "challenger_error_rate_low": "challenger error rate, 95% low",
    "p95_ratio": "p95 ratio (challenger ÷ champion)", "share": "challenger share (%)", "judged": "judged",
    "low": "95% low", "high": "95% high", "rows_quarantined": "rows quarantined", MALFORMED_REASON: "reason",
    MALFORMED_LINE: "line", REQUEST_GROUP: "request in the log",
    "request_id": "request id", "true_outcome": "true outcome", "who_was_right": "who was right",
}
PERCENT_COLUMNS = {"error_rate", "error_rate_low", "error_rate_high", "challenger_error_rate",
                   "challenger_error_rate_low"}


def number(value: Any, digits: int = 3, percent: bool = False) -> str:
    """A number for a sentence or a cell: "—" when it is missing or not finite."""
    if value is None or isinstance(value, str):
        return MISSING if value in (None, "", "nan", "None") else str(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and abs(int(value)) >= 10**15:
        return cell_text(value)  # exactly: a float would round it
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):  # an integer past a float's range is shown exactly
        return cell_text(value) or MISSING
    if not math.isfinite(x):
        return MISSING
    if percent:
        return f"{x:.{max(digits - 2, 1)}%}"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}" if abs(x) < 1e-3 or abs(x) >= 1e5 else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _cell(value: Any, column: str) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, percent=column in PERCENT_COLUMNS)
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):
        pass
    text = cell_text(value)
    return MISSING if text in ("", "nan", "NaN", "None", "inf", "-inf", "<NA>") else text


def readable(frame: pd.DataFrame | None, index_name: str | None = None) -> pd.DataFrame:
    """A copy to show: every value as text (numbers formatted, missing as "—"), columns in words."""
    if frame is None:
        return pd.DataFrame()
    table = frame.reset_index() if index_name or frame.index.name else frame.copy()
    shown = pd.DataFrame({WORDS.get(str(c), str(c).replace("_", " ")): [_cell(v, str(c)) for v in table[c]]
                          for c in table.columns})
    return shown


MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:"


# Streamlit's Markdown turns URLs, e-mail addresses and "www." into links after escapes are
# read, so no escape stops it: an invisible word joiner (U+2060) after "://", "@" and "www"
# breaks the pattern and leaves what is shown unchanged.
WORD_JOINER = "\u2060"
LINK_STARTS = re.compile(r"(?i)(://|@(?=[-\w]+\.[-\w])|\bwww(?=\.))")  # where a link would start


def escaped(text: str) -> str:
    """User text (a model or column name, a URL, a reviewer's words) made inert inside a message
    Streamlit renders as Markdown: every character Markdown or HTML could act on is escaped, and
    nothing in it can become a link, an image or an element."""
    joined = LINK_STARTS.sub(lambda found: found.group(1) + WORD_JOINER, str(text))
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in joined)
