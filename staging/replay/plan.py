"""What a replay sends, to whom and when: the pure decisions, kept apart from the network code.

Modes (who answers a request):
- shadow: every model gets every request; the champion's answer is the one served.
- canary: a share of requests goes to the challenger, ramped in steps (5, 25, 50, 100% by
  default), each step holding an equal part of the traffic. After each step its gates are
  checked (challenger error rate, challenger p95 against the champion's); a failed gate
  aborts: every later request goes to the champion, and the run says why.
- ab: a sticky split by a key (a column such as a customer id): the key's hash decides, so
  the same key always meets the same model, in this run and the next.

Timing (when a request is sent):
- max: as fast as the servers answer, with at most `concurrency` requests in flight.
- recorded: the recorded spacing between requests, divided by `speed` (2.0 replays twice as
  fast, like GoReplay's 200%).
- rate: a fixed rate, open loop: requests leave on schedule whether or not earlier ones
  have answered, and latency counts from the intended send time, so a stalled server shows
  in the numbers instead of hiding them (coordinated omission).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analytics.uncertainty import wilson_interval
from ..errors import ConfigurationError
from ..roles import CHALLENGER, CHAMPION
from ..runs.settings import DEFAULT_CANARY_STEPS, TIMINGS
from ..traffic.selection import stable_share


def parse_canary_steps(text: str) -> tuple[int, ...]:
    """'5, 25, 50, 100' as (5, 25, 50, 100); anything else is refused with a message."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError(f"'{text}' is not a list of whole percentages.",
                                 hint="Write them like 5, 25, 50, 100.") from None


def send_offsets(timing: str, count: int, timestamps: pd.Series | None = None, speed: float = 1.0,
                 rate_per_s: float = 50.0) -> np.ndarray | None:
    """Seconds after the start at which each request is due; None when timing is "max"."""
    if timing == "max":
        return None
    if timing == "rate":
        if rate_per_s <= 0:
            raise ConfigurationError("The rate must be above 0 requests per second.",
                                     hint="Give a positive rate.")
        return np.arange(count) / rate_per_s
    if timing == "recorded":
        if speed <= 0:
            raise ValueError("the speed factor must be above 0")
        if timestamps is None or timestamps.isna().all():
            raise ConfigurationError("The traffic has no timestamps, so it cannot be replayed as recorded.",
                                     hint="Choose the timing 'as fast as answered' or 'fixed rate', or give a "
                                          "file with a timestamp column.")
        stamps = pd.to_datetime(timestamps, utc=True).reset_index(drop=True)
        seconds = (stamps - stamps.dropna().iloc[0]).dt.total_seconds().to_numpy()
        seconds = np.fmax.accumulate(np.where(np.isnan(seconds), 0.0, seconds))  # gaps and reorderings wait
        if whole_second_ties(timestamps):
            seconds = spread_within_seconds(seconds)
        return np.maximum(seconds, 0) / speed
    raise ConfigurationError(f"Unknown timing {timing!r}.", hint=f"Choose one of: {', '.join(TIMINGS)}.")


SPREAD_NOTE = ("Its times have whole seconds only (SageMaker's inferenceTime), so the requests of one second are "
               "spread evenly across it (seeded) rather than sent in a burst.")


def whole_second_ties(timestamps: pd.Series | None) -> bool:
    """Whether recorded times carry whole seconds only and several requests share a second: sent
    as recorded, those would go out in a burst that production never saw."""
    if timestamps is None:
        return False
    stamps = pd.to_datetime(timestamps, utc=True, errors="coerce").dropna()
    if len(stamps) < 2 or (stamps.dt.microsecond != 0).any() or (stamps.dt.nanosecond != 0).any():
        return False
    return bool(stamps.duplicated().any())


def spread_within_seconds(seconds: np.ndarray, seed: int = 0) -> np.ndarray:
    """The k requests that share a whole second placed at (i + u) / k of it, u uniform and
    seeded: evenly spread, never in a burst, and the same every time."""
    rng = np.random.default_rng(seed)
    out = seconds.astype(float).copy()
    whole = np.floor(seconds)
    start = 0
    while start < len(seconds):
        end = start
        while end < len(seconds) and whole[end] == whole[start]:
            end += 1
        k = end - start
        out[start:end] = whole[start] + (np.arange(k) + rng.random(k)) / k
        start = end
    return out


def ab_targets(keys, challenger_share: float) -> np.ndarray:
    """CHALLENGER where a key's hash falls below the share, CHAMPION elsewhere."""
    return np.where(stable_share(keys) < challenger_share, CHALLENGER, CHAMPION)


@dataclass(frozen=True)
class CanaryGates:
    max_error_rate: float = 0.02  # the challenger's share of failed answers within a step
    max_p95_ratio: float = 1.5  # the challenger's p95 latency over the champion's within a step
    min_answers: int = 30  # fewer challenger answers than this in a step: the step is not judged


@dataclass
class CanaryStep:
    share: int  # percent of requests sent to the challenger
    start: int  # first request index of the step
    end: int  # one past the last


def canary_steps(count: int, shares=DEFAULT_CANARY_STEPS) -> list[CanaryStep]:
    """The requests split into equal consecutive parts, one per step."""
    bounds = np.linspace(0, count, len(shares) + 1).round().astype(int)
    return [CanaryStep(int(s), int(a), int(b)) for s, a, b in zip(shares, bounds[:-1], bounds[1:])]


def canary_targets(request_ids, share: int) -> np.ndarray:
    """Within a step, the requests whose id hashes below the share go to the challenger."""
    return ab_targets(request_ids, share / 100)


def p95_ratio_interval(challenger_ms: np.ndarray, champion_ms: np.ndarray, draws: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """A 95% percentile-bootstrap interval of the challenger's p95 over the champion's, the two
    arms resampled independently (in a canary step each request met one model)."""
    rng = np.random.default_rng(seed)
    ours = np.percentile(rng.choice(challenger_ms, (draws, len(challenger_ms))), 95, axis=1)
    theirs = np.percentile(rng.choice(champion_ms, (draws, len(champion_ms))), 95, axis=1)
    low, high = np.percentile(ours / theirs, [2.5, 97.5])
    return float(low), float(high)


def not_reached(share: int, requests: int, aborted: str) -> dict:
    """A canary step after an abort: every request went to the champion, nothing was judged."""
    return {"share": 0, "requests": requests, "passed": None, "judged": False, "reached": False,
            "reason": f"not reached: every request of the {share}% step went to the champion ({aborted})"}


def check_gates(rows: pd.DataFrame, gates: CanaryGates) -> tuple[bool, dict]:
    """A step's answers (target, status, error, latency_ms) against the gates: (passed, facts)."""
    facts: dict = {}
    challenger = rows[rows["target"] == CHALLENGER]
    champion = rows[rows["target"] == CHAMPION]
    failed = challenger["error"].fillna("").ne("") | challenger["status"].ne(200)
    facts["challenger_answers"] = int(len(challenger))
    facts["challenger_error_rate"] = float(failed.mean()) if len(challenger) else float("nan")
    ok_latency = challenger.loc[~failed, "latency_ms"].dropna()
    champion_ok = champion.loc[champion["error"].fillna("").eq("") & champion["status"].eq(200), "latency_ms"]
    if len(ok_latency) and len(champion_ok.dropna()):
        facts["p95_ratio"] = float(np.percentile(ok_latency, 95) / np.percentile(champion_ok.dropna(), 95))
        facts["p95_ratio_low"], facts["p95_ratio_high"] = p95_ratio_interval(ok_latency.to_numpy(float),
                                                                              champion_ok.dropna().to_numpy(float))
    else:
        facts["p95_ratio"] = facts["p95_ratio_low"] = facts["p95_ratio_high"] = float("nan")
    errors = wilson_interval(int(failed.sum()), int(len(challenger)))
    facts["challenger_error_rate_low"] = errors.low
    facts["judged"] = bool(len(challenger) >= gates.min_answers)
    reasons = []
    # the same rules as the gate: a step is judged only on enough answers, and the error rate
    # only when its whole 95% interval is above the limit, not on a few unlucky answers
    if len(challenger) >= gates.min_answers and errors.low > gates.max_error_rate:
        reasons.append(f"the challenger failed {facts['challenger_error_rate']:.1%} of its {len(challenger)} requests "
                       f"(95% CI from {errors.low:.1%}; the gate allows {gates.max_error_rate:.1%})")
    # latency too: only when the whole 95% interval of the p95 ratio is beyond the limit, as the
    # gate judges it, never on a point estimate from a few dozen answers
    if (len(ok_latency) >= gates.min_answers and len(champion_ok.dropna()) >= gates.min_answers
            and facts["p95_ratio_low"] > gates.max_p95_ratio):
        reasons.append(f"the challenger's p95 latency was {facts['p95_ratio']:.2f}x the champion's (95% CI "
                       f"{facts['p95_ratio_low']:.2f}x to {facts['p95_ratio_high']:.2f}x; the gate allows "
                       f"{gates.max_p95_ratio:.2f}x)")
    if not facts["judged"]:
        facts["reason"] = (f"not judged: {len(challenger)} challenger answers, fewer than the {gates.min_answers} "
                           "a step needs")
        return True, facts
    facts["reason"] = "; ".join(reasons)
    return not reasons, facts
