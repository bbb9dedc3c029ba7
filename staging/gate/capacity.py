"""The policy's `[capacity]` rules on the latest capacity run of the run's two versions.

- **Rate**: the challenger's sustainable rate over the champion's must be at least
  `min_rate_ratio`. Each model's rate is a range (the repeats' held rates up to the lowest rate
  that broke; "at least" when the harness or the ramp's top capped it), so the ratio is a range:
  passed when it lies wholly at or above the limit, failed when wholly below, not yet when it
  straddles (more repeats, or a finer bisection, decide it).
- **Spike**: the challenger's errors during the spike, as a Wilson interval, at most
  `max_spike_error_rate`: passed under, failed over, not yet when the interval holds the limit.

With no capacity run for these versions, or a run without a spike, the rule is not evaluated.
"""

from __future__ import annotations

import math

from ..analytics.uncertainty import wilson_interval
from ..capacity.result import CapacityResult
from ..roles import CHALLENGER, CHAMPION
from .policy import GatePolicy
from .rules import ACTION_STATUS
from .verdict import NOT_EVALUATED, NOT_YET, PASSED, GateCheck


def capacity_checks(result: CapacityResult | None, policy: GatePolicy, versions: dict[str, str]) -> list[GateCheck]:
    """The capacity rules, or one "not evaluated" check naming the command that would measure them."""
    if policy.capacity == "ignore":
        return [GateCheck("capacity", NOT_EVALUATED, "Not evaluated: the policy ignores capacity.")]
    if result is None:
        pair = f"champion v{versions.get(CHAMPION, '?')} and challenger v{versions.get(CHALLENGER, '?')}"
        return [GateCheck("capacity", NOT_EVALUATED,
                          f"Not evaluated: no capacity run measured {pair} (run python -m staging capacity "
                          "--model NAME, or open the Capacity page).")]
    return [rate_check(result, policy), spike_check(result, policy)]


def rate_check(result: CapacityResult, policy: GatePolicy) -> GateCheck:
    name, limit = "capacity: sustainable rate", policy.capacity_min_rate_ratio
    champion, challenger = result.models[CHAMPION], result.models[CHALLENGER]
    low, high = result.ratio_range()
    numbers = {"capacity_id": result.capacity_id, "ratio": result.ratio(), "ratio_low": low,
               "ratio_high": None if math.isinf(high) else high, "min_rate_ratio": limit,
               "champion": champion.text(), "challenger": challenger.text()}
    said = (f"The challenger holds {challenger.text()} at {result.objective.text()}, the champion "
            f"{champion.text()} (capacity run {result.capacity_id})")
    if champion.rate is None and challenger.rate is None:
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: neither model held the ramp's first rate. {said}.",
                         numbers)
    if math.isnan(low):
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: the champion's rate has no upper end. {said}.", numbers)
    range_text = f"{low:.2f}×" + (f" to {high:.2f}×" if math.isfinite(high) else " or more")
    if low >= limit:
        return GateCheck(name, PASSED, f"{said}: the ratio, {range_text}, is at least the policy's {limit:g}×.",
                         numbers)
    if high < limit:
        return GateCheck(name, ACTION_STATUS[policy.capacity],
                         f"{said}: the ratio, {range_text}, is below the policy's {limit:g}×.", numbers)
    return GateCheck(name, NOT_YET, f"{said}: the ratio's range over the repeats, {range_text}, holds the policy's "
                                    f"{limit:g}×; more repeats (--repeats) would decide it.", numbers)


def spike_check(result: CapacityResult, policy: GatePolicy) -> GateCheck:
    name, limit = "capacity: spike errors", policy.capacity_max_spike_error_rate
    spike = result.models[CHALLENGER].spike
    if spike is None or not spike.sent_during:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the capacity run sent no spike.")
    interval = wilson_interval(spike.errors_during, spike.sent_during)
    numbers = {"errors": spike.errors_during, "sent": spike.sent_during, "error_rate": spike.error_rate_during,
               "low": interval.low, "high": interval.high, "max_spike_error_rate": limit}
    said = (f"During the spike ({spike.base_rate:g} → {spike.peak_rate:g} req/s) the challenger failed "
            f"{spike.errors_during:,} of {spike.sent_during:,} requests ({spike.error_rate_during:.1%}, 95% CI "
            f"{interval.low:.1%} to {interval.high:.1%})")
    if interval.high <= limit:
        return GateCheck(name, PASSED, f"{said}: within the policy's {limit:.1%}.", numbers)
    if interval.low > limit:
        return GateCheck(name, ACTION_STATUS[policy.capacity], f"{said}: over the policy's {limit:.1%}.", numbers)
    return GateCheck(name, NOT_YET, f"{said}: the interval holds the policy's {limit:.1%}; a longer spike "
                                    "(--spike-s) would decide it.", numbers)
