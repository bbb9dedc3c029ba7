"""An A/B run's two arms over its own clock: the replay cut into equal windows, and in each
window each arm's requests, failed answers (rate with a 95% Wilson interval) and p95 latency
(with a 95% bootstrap interval), so a reviewer sees whether the split held and whether either
arm drifted while the run went on. Each arm is judged on its own requests: the arms never
answered the same request, so nothing here is paired."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..roles import CHALLENGER, CHAMPION
from .latency import answered, order_statistic_interval
from .uncertainty import wilson_interval

ARM_COLUMNS = ["window", "from_s", "to_s", "model", "requests", "share", "answers", "errors", "error_rate",
               "error_rate_low", "error_rate_high", "p95_ms", "p95_low", "p95_high"]


def arm_windows(results: pd.DataFrame, windows: int = 5, n_boot: int = 1000, seed: int = 0,
                exact_above: int = 2_000) -> pd.DataFrame:
    """Per window (1..`windows`, equal slices of the replay's own clock) and arm: requests,
    the arm's share of the window's requests, answers, errors with the error rate's interval,
    and the p95 of answered latencies with its interval (NaN where the arm had under two answers:
    no interval can be honest on one). Bootstrap up to `exact_above` answers, exact above."""
    rows = results[results["target"].isin([CHAMPION, CHALLENGER])].dropna(subset=["actual_send"])
    if rows.empty:
        return pd.DataFrame(columns=ARM_COLUMNS)
    start = float(rows["actual_send"].min())
    span = max(float(rows["actual_send"].max()) - start, 1e-9)
    window = np.minimum(((rows["actual_send"] - start) / span * windows).astype(int), windows - 1) + 1
    rng = np.random.default_rng(seed)
    out = []
    for number in range(1, windows + 1):
        part = rows[window.eq(number)]
        for role in (CHAMPION, CHALLENGER):
            arm = part[part["target"].eq(role)]
            ok = answered(arm)
            errors = wilson_interval(int((~ok).sum()), len(arm))
            latency = np.sort(arm.loc[ok, "latency_ms"].astype(float).dropna().to_numpy())
            p95, low, high = _p95_interval(latency, rng, n_boot, exact_above)
            out.append({"window": number, "from_s": span * (number - 1) / windows,
                        "to_s": span * number / windows, "model": role, "requests": int(len(arm)),
                        "share": len(arm) / len(part) if len(part) else float("nan"), "answers": int(ok.sum()),
                        "errors": int((~ok).sum()), "error_rate": errors.estimate, "error_rate_low": errors.low,
                        "error_rate_high": errors.high, "p95_ms": p95, "p95_low": low, "p95_high": high})
    return pd.DataFrame(out, columns=ARM_COLUMNS)


def _p95_interval(sorted_ms: np.ndarray, rng: np.random.Generator, n_boot: int,
                  exact_above: int) -> tuple[float, float, float]:
    if sorted_ms.size < 2:
        return float("nan"), float("nan"), float("nan")
    estimate = float(np.percentile(sorted_ms, 95))
    if sorted_ms.size > exact_above:
        low, high = order_statistic_interval(sorted_ms, 95)
        return estimate, float(low), float(high)
    boot = np.percentile(sorted_ms[rng.integers(0, sorted_ms.size, size=(n_boot, sorted_ms.size))], 95, axis=1)
    return estimate, float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def split_sentence(windows: pd.DataFrame, intended_share: float) -> str:
    """How the requests were split, against the share asked for, and whether any window's error
    rate or p95 interval lies wholly above the other arm's in the same window."""
    if windows.empty:
        return "No request was sent, so there is no split to show."
    totals = windows.groupby("model")["requests"].sum()
    champion, challenger = int(totals.get(CHAMPION, 0)), int(totals.get(CHALLENGER, 0))
    share = wilson_interval(challenger, champion + challenger)
    sentence = (f"The challenger met {challenger:,} of {champion + challenger:,} requests: {share.estimate:.1%} "
                f"(95% CI {share.low:.1%} to {share.high:.1%}), where {intended_share:.0%} was asked for.")
    worse = []
    wide = windows.pivot(index="window", columns="model")
    for number in wide.index:
        row = wide.loc[number]
        if row[("p95_low", CHALLENGER)] > row[("p95_high", CHAMPION)]:
            worse.append(f"window {number}: the challenger's p95 latency is above the champion's")
        if row[("error_rate_low", CHALLENGER)] > row[("error_rate_high", CHAMPION)]:
            worse.append(f"window {number}: the challenger failed more often")
    if worse:
        return sentence + " Where the intervals do not overlap: " + "; ".join(worse) + "."
    return sentence + " In no window do the two arms' error-rate or p95 intervals separate with the challenger worse."
