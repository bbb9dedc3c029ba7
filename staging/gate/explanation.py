"""The policy's `[explanation]` rules on the run's stored explanation (why the models differ).

- **Ranking**: the nDCG of the challenger's feature ranking against the champion's (SageMaker
  Clarify's attribution check) must be at least `min_ndcg` (0.9, Clarify's). Passed when its
  95% interval lies at or above it, `action` when wholly below. When the interval holds the
  limit the data cannot decide: not yet under `action = "fail"` (more explained rows decide
  it), a warning under `action = "warn"` (the default), since a rule that can only warn never
  holds a promotion back.
- **Shares**: each feature named in `max_share` must not take more than that share of the
  challenger's explanation; decided on the share's interval the same way.

For a classifier with more than two classes each class is checked and the worst decides. With no
explanation of the run, the rule is not evaluated.
"""

from __future__ import annotations

from ..explain.result import Explanation
from .policy import GatePolicy
from .rules import ACTION_STATUS
from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, WARNED, GateCheck

ORDER = {FAILED: 0, WARNED: 1, NOT_YET: 2, PASSED: 3, NOT_EVALUATED: 4}


def explanation_checks(explanation: Explanation | None, policy: GatePolicy) -> list[GateCheck]:
    if policy.explanation == "ignore":
        return [GateCheck("explanation", NOT_EVALUATED, "Not evaluated: the policy ignores explanations.")]
    if explanation is None or explanation.comparison(0) is None:
        last = "" if explanation is None else ": ".join(filter(None, (explanation.status, explanation.reason)))
        why = f" (the last one: {last})" if last else ""
        return [GateCheck("explanation", NOT_EVALUATED,
                          f"Not evaluated: this run has no explanation{why}. Open Compare → Why they differ, or run "
                          "python -m staging explain --run RUN_ID.")]
    outputs = range(len(explanation.output_names))
    checks = [worst([ranking_check(explanation, k, policy) for k in outputs])]
    for feature, limit in policy.explanation_max_share.items():
        checks.append(worst([share_check(explanation, k, feature, limit, policy) for k in outputs]))
    return checks


def undecided(policy: GatePolicy) -> str:
    """An interval that holds the limit: not yet where the rule could fail, a warning where it can only warn."""
    return NOT_YET if policy.explanation == "fail" else WARNED


def worst(checks: list[GateCheck]) -> GateCheck:
    return min(checks, key=lambda check: ORDER.get(check.status, 5))


def ranking_check(explanation: Explanation, output: int, policy: GatePolicy) -> GateCheck:
    name, limit = "explanation: feature ranking", policy.explanation_min_ndcg
    comparison = explanation.comparison(output)
    assert comparison is not None
    ci = comparison.ndcg_interval
    numbers = {"output": comparison.output, "ndcg": comparison.ndcg, "low": ci.low, "high": ci.high,
               "min_ndcg": limit, "rows": comparison.rows}
    said = (f"Explaining {comparison.output} on {comparison.rows:,} requests, the challenger's feature ranking has "
            f"nDCG {comparison.ndcg:.2f} (95% CI {ci.low:.2f} to {ci.high:.2f}) against the champion's")
    if ci.low >= limit:
        return GateCheck(name, PASSED, f"{said}: at least the policy's {limit:g}.", numbers)
    if ci.high < limit:
        return GateCheck(name, ACTION_STATUS[policy.explanation],
                         f"{said}: below the policy's {limit:g}; it leans on {', '.join(comparison.top('challenger'))} "
                         f"where the champion leaned on {', '.join(comparison.top('champion'))}.", numbers)
    return GateCheck(name, undecided(policy), f"{said}: the interval holds the policy's {limit:g}, so it cannot tell "
                                              "yet; explaining more requests (--disagreements, --others) would decide "
                                              "it.", numbers)


def share_check(explanation: Explanation, output: int, feature: str, limit: float, policy: GatePolicy) -> GateCheck:
    name = f"explanation: {feature}'s share"
    comparison = explanation.comparison(output)
    assert comparison is not None
    rows = comparison.table[comparison.table["feature"] == feature]
    if rows.empty:
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: the models have no input named {feature}.")
    row = rows.iloc[0]
    numbers = {"output": comparison.output, "share": row["challenger_share"], "low": row["challenger_share_low"],
               "high": row["challenger_share_high"], "max_share": limit}
    said = (f"{feature} carries {row['challenger_share']:.0%} of the challenger's explanation of {comparison.output} "
            f"(95% CI {row['challenger_share_low']:.0%} to {row['challenger_share_high']:.0%}; the champion's "
            f"{row['champion_share']:.0%})")
    if row["challenger_share_high"] <= limit:
        return GateCheck(name, PASSED, f"{said}: within the policy's {limit:.0%}.", numbers)
    if row["challenger_share_low"] > limit:
        return GateCheck(name, ACTION_STATUS[policy.explanation], f"{said}: over the policy's {limit:.0%}.", numbers)
    return GateCheck(name, undecided(policy), f"{said}: the interval holds the policy's {limit:.0%}, so it cannot tell "
                                              "yet; explaining more requests would decide it.", numbers)
