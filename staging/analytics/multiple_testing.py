"""Corrections for testing many hypotheses at once (segments, drift columns)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """False-discovery-rate adjusted p-values (q-values), in the input order."""
    p = np.asarray(p_values, float)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(n)
    out[order] = adjusted
    return out
