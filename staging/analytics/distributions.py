"""Each input's distribution in the training reference and in the replayed traffic, as shares, so a
reviewer sees what moved in a drifted column (as Evidently shows it), not only that it did.

Numeric columns share one set of bin edges over both samples (the pooled range, `bins` equal
widths); categorical columns show their most frequent values over both, the rest as "other".
Each source's shares sum to 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .drift_samples import CategoricalSample, NumericSample, ReferenceProfile, sample_of

SOURCES = ("training reference", "replayed traffic")


def _numeric(reference: NumericSample, current: NumericSample, bins: int) -> pd.DataFrame:
    both = np.concatenate([reference.values, current.values])
    if not len(both):
        return pd.DataFrame()
    edges = np.histogram_bin_edges(both, bins=bins)
    rows = []
    for source, values in zip(SOURCES, (reference.values, current.values), strict=True):
        counts, _ = np.histogram(values, bins=edges)
        shares = counts / max(counts.sum(), 1)
        rows += [{"source": source, "bin_start": float(edges[i]), "bin_end": float(edges[i + 1]),
                  "share": float(shares[i])} for i in range(len(counts))]
    return pd.DataFrame(rows)


def _categorical(reference: CategoricalSample, current: CategoricalSample, top: int) -> pd.DataFrame:
    pooled = reference.counts.add(current.counts, fill_value=0).sort_values(ascending=False)
    kept = [str(v) for v in pooled.index[:top]]
    rows = []
    for source, counts in zip(SOURCES, (reference.counts, current.counts), strict=True):
        total = max(float(counts.sum()), 1.0)
        named = {str(k): float(v) for k, v in counts.items()}
        rows += [{"source": source, "value": value, "share": named.get(value, 0.0) / total} for value in kept]
        other = sum(v for k, v in named.items() if k not in kept)
        if len(pooled) > top:
            rows.append({"source": source, "value": "other", "share": other / total})
    return pd.DataFrame(rows)


def feature_distributions(reference: ReferenceProfile, current: pd.DataFrame, features: list[str],
                          numeric: tuple[str, ...], bins: int = 20, top: int = 12) -> dict[str, pd.DataFrame]:
    """feature -> its shares per bin (numeric: bin_start, bin_end) or value (categorical), per source."""
    out = {}
    for feature in features:
        if feature not in reference.samples or feature not in current.columns:
            continue
        ours, theirs = reference.samples[feature], sample_of(current[feature], feature in numeric)
        if isinstance(ours, NumericSample) and isinstance(theirs, NumericSample):
            out[feature] = _numeric(ours, theirs, bins)
        elif isinstance(ours, CategoricalSample) and isinstance(theirs, CategoricalSample):
            out[feature] = _categorical(ours, theirs, top)
    return {feature: frame for feature, frame in out.items() if not frame.empty}
