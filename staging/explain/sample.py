"""Which replayed requests an explanation explains, and the background it masks them with.

Every disagreement up to a cap, plus a random sample of the agreeing requests. Disagreements
are over-sampled on purpose (they are what a reviewer asks about), so each explained row
carries a weight, the number of the run's requests of its stratum it stands for; the global
figures are weighted means, estimates of the whole traffic's, not of the sample's.

The background is a random sample of the training reference (or, when the run names none, of
the replayed requests, and the explanation says so), after the same validation the traffic
passed: a background row the traffic's checks would quarantine is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DISAGREEMENT, AGREEMENT = "disagreement", "agreement"


@dataclass(frozen=True)
class ExplainedRows:
    request_ids: tuple[str, ...]
    strata: tuple[str, ...]  # per row: disagreement or agreement
    weights: tuple[float, ...]  # per row: the run's requests of its stratum it stands for
    totals: dict  # stratum -> (explained, in the run)

    def __len__(self) -> int:
        return len(self.request_ids)

    def sentence(self) -> str:
        shown, all_ = self.totals.get(DISAGREEMENT, (0, 0))
        others, rest = self.totals.get(AGREEMENT, (0, 0))
        return (f"{shown:,} of {all_:,} disagreements and {others:,} of {rest:,} agreeing requests explained; "
                "global figures weight each row by the requests of its kind it stands for.")


def choose_rows(request_ids: pd.Series, disagree: np.ndarray, disagreements: int, others: int,
                seed: int) -> ExplainedRows:
    """Up to `disagreements` disagreeing and `others` agreeing requests, each drawn at random."""
    rng = np.random.default_rng(seed)
    ids = request_ids.astype(str).to_numpy()
    chosen, strata, weights, totals = [], [], [], {}
    for stratum, members, cap in ((DISAGREEMENT, np.flatnonzero(disagree), disagreements),
                                  (AGREEMENT, np.flatnonzero(~disagree), others)):
        take = members if len(members) <= cap else np.sort(rng.choice(members, size=cap, replace=False))
        totals[stratum] = (len(take), len(members))
        chosen += ids[take].tolist()
        strata += [stratum] * len(take)
        weights += [len(members) / len(take)] * len(take) if len(take) else []
    return ExplainedRows(tuple(chosen), tuple(strata), tuple(weights), totals)


def background_sample(reference: pd.DataFrame | None, traffic: pd.DataFrame, size: int,
                      seed: int) -> tuple[pd.DataFrame, str]:
    """(up to `size` background rows, where they came from in words)."""
    if reference is not None and len(reference):
        pool, source = reference, "the training reference"
    else:
        pool, source = traffic, "the replayed requests (the run names no training reference)"
    rows = pool.sample(min(size, len(pool)), random_state=seed).reset_index(drop=True)
    return rows, f"{len(rows):,} rows drawn at random from {source}"
