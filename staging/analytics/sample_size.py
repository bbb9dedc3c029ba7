"""How many more observations an undecided interval needs before it decides.

A gate's rule on an interval decides in one of two directions: it passes once the interval's
low end clears `pass_bound`, and it fails once its high end falls below `fail_bound` (for a
"not worse" rule in the challenger's favour: pass above minus the margin, fail below zero).
Between them the data cannot tell, and the gate says "not yet".

`needed_to_decide` answers "how many, then?" from the run itself: the interval's width at the
current count gives the spread of one observation (the paired discordance or the unpaired
variance, whatever the interval was built from), and widths shrink as one over the square root
of the count. The count it gives is the smallest at which an interval at the same level would
decide in `share` of runs (95% by default) if the true difference were `assumed`, by default
zero: the two models equally good, which is what an undecided interval cannot rule out.
`bench/gate.py` sets it beside the count at which simulated runs do decide.
"""

from __future__ import annotations

import math

from scipy import stats

DECIDE_SHARE = 0.95
LARGEST = 10**9  # beyond this, "more than anyone will label"


def decide_probability(count: float, spread: float, pass_bound: float, fail_bound: float, assumed: float,
                       z: float, fail_z: float | None = None) -> float:
    """The chance that an interval over `count` observations passes or fails, when one
    observation's standard deviation is `spread` and the truth is `assumed`; the fail side may
    ask for a wider interval (`fail_z`) than the pass side."""
    error = spread / math.sqrt(count)
    passes = stats.norm.cdf((assumed - pass_bound) / error - z)
    fails = stats.norm.cdf((fail_bound - assumed) / error - (fail_z or z))
    return float(passes + fails)


def needed_to_decide(low: float, high: float, count: int, pass_bound: float, fail_bound: float,
                     assumed: float = 0.0, level: float = 0.95, share: float = DECIDE_SHARE,
                     fail_z: float | None = None) -> int | None:
    """The count at which the rule would decide in `share` of runs (see the module docstring);
    None when the interval has no width to scale (a degenerate interval decides nothing more)."""
    z = stats.norm.ppf(0.5 + level / 2)
    width = high - low
    if count <= 0 or not math.isfinite(width) or width <= 0:
        return None
    spread = width / (2 * z) * math.sqrt(count)

    def decides(size: float) -> bool:
        return decide_probability(size, spread, pass_bound, fail_bound, assumed, z, fail_z) >= share

    if decides(count):
        return int(count)
    upper = max(count, 1)
    while not decides(upper):
        if upper >= LARGEST:
            return LARGEST
        upper *= 2
    lower = max(upper // 2, count)
    while upper - lower > max(1, lower // 200):  # to half a percent: it is an estimate, said "about"
        middle = (lower + upper) // 2
        if decides(middle):
            upper = middle
        else:
            lower = middle
    return int(upper)


def about(count: int) -> str:
    """A needed count as a person says it: two significant figures, with separators."""
    if count >= LARGEST:
        return f"more than {LARGEST:,}"
    digits = max(len(str(count)) - 2, 0)
    return f"{round(count, -digits):,}"
