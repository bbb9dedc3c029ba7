"""The gate's rules on an interval of the challenger's gain: quality (each metric the policy
names, and its estimate before labels) and errors. Each ends passed (the interval clears the
rule), failed (it lies on the wrong side) or not yet (it straddles), and a "not yet" says how
many labelled requests, or requests, would decide it (`analytics.sample_size`).
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from ..analytics.sample_size import about, needed_to_decide
from ..analytics.uncertainty import Interval, newcombe_difference, newcombe_paired_difference
from ..evidence import RunEvidence
from ..roles import CHALLENGER, CHAMPION
from .policy import GatePolicy, MetricRule
from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, WARNED, GateCheck

ACTION_STATUS = {"fail": FAILED, "warn": WARNED}
ONE_SIDED = 0.025  # the chance, shared by the policy's quality rules, of failing equally good models
Z95 = float(stats.norm.ppf(0.975))


# -- quality ---------------------------------------------------------------------------------
def quality_checks(evidence: RunEvidence, policy: GatePolicy) -> list[GateCheck]:
    rules = policy.rules_for(evidence.task)
    table = evidence.differences
    unpaired = evidence.manifest.split
    checks = []
    for rule in rules:
        name = f"quality: {rule.metric}"
        if evidence.labelled < policy.min_labelled:
            checks.append(GateCheck(name, NOT_EVALUATED, f"Not evaluated: {evidence.labelled:,} labelled requests "
                                                         f"are fewer than the {policy.min_labelled:,} the policy needs."))
            continue
        row = None if table is None or table.empty else table[table["metric"] == rule.metric]
        if row is None or row.empty or any(pd.isna(row.iloc[0][c]) for c in ("difference", "low", "high")):
            why = missing_metric_reason(evidence, rule.metric, row)
            checks.append(GateCheck(name, NOT_EVALUATED, f"Not evaluated: {why}."))
            continue
        checks.append(metric_check(rule, row.iloc[0], unpaired, int(evidence.labelled), len(rules)))
    return checks


def missing_metric_reason(evidence: RunEvidence, metric: str, row: pd.DataFrame | None) -> str:
    """Why a metric the policy names has no interval on this run, in words."""
    note = str(row.iloc[0].get("based on", "")) if row is not None and not row.empty else ""
    if note.startswith("not available"):
        return f"{metric} is {note}"
    if row is None or row.empty:
        if evidence.classes and len(evidence.classes) > 2 and metric in ("precision", "recall", "f1"):
            return (f"{metric} is a positive class's figure and this model has {len(evidence.classes)} classes; "
                    f"name {metric}_macro or {metric}_weighted in the policy")
        return f"this run has no {metric} (a {evidence.task} run)"
    return f"this run has no interval for {metric} (too few labelled requests of some class)"


def interval_status(gain_low: float, gain_high: float, pass_bound: float, fail_bound: float) -> str:
    """A rule on an interval of the challenger's gain (positive = better): passed once the whole
    interval clears `pass_bound`, failed once it lies below `fail_bound`, not yet in between."""
    if gain_low > pass_bound:
        return PASSED
    if gain_high < fail_bound:
        return FAILED
    return NOT_YET


def family_z(rules: int) -> float:
    """How far the fail side of each quality interval reaches, in standard errors, so that the
    policy's quality rules together fail equally good models at most 2.5% of the time
    (Bonferroni: each rule's one-sided 2.5% shared among them)."""
    return float(stats.norm.ppf(1 - ONE_SIDED / max(rules, 1)))


def metric_check(rule: MetricRule, row: pd.Series, unpaired: bool, labelled: int = 0, rules: int = 1) -> GateCheck:
    """One metric's rule on its difference interval (see default.toml for the meanings). With
    several quality rules, the fail side of the interval is widened by `family_z(rules)`."""
    name = f"quality: {rule.metric}"
    sign = 1.0 if rule.greater_is_better else -1.0
    champion, challenger = float(row["champion"]), float(row["challenger"])
    gain_low, gain_high = sorted((sign * float(row["low"]), sign * float(row["high"])))
    gain = sign * float(row["difference"])
    fail_z = family_z(rules)
    fail_high = gain + (gain_high - gain) * fail_z / Z95  # the fail side, widened for the family
    how = ("unpaired: each model on its own requests" if unpaired else "paired: the same requests")
    numbers = {"metric": rule.metric, "rule": rule.rule, "champion": champion, "challenger": challenger,
               "difference": float(row["difference"]), "low": float(row["low"]), "high": float(row["high"]),
               "method": str(row.get("method", "")), "paired": not unpaired, "quality_rules": rules,
               "fail_z": fail_z}
    worse_word = "lower" if rule.greater_is_better else "higher"
    interval = f"{float(row['difference']):+.4f} (95% CI {float(row['low']):+.4f} to {float(row['high']):+.4f}; {how})"
    if rule.threshold is not None:
        below = challenger < rule.threshold if rule.greater_is_better else challenger > rule.threshold
        if below:
            bound = "at least" if rule.greater_is_better else "at most"
            return GateCheck(name, FAILED, f"The challenger's {rule.metric} is {challenger:.4f}; the "
                             f"policy needs {bound} {rule.threshold:g}.", {**numbers, "threshold": rule.threshold})
    family = f" (widened for the policy's {rules} quality rules)" if rules > 1 else ""
    if rule.rule == "not_worse":
        margin = rule.margin * abs(champion) if rule.relative else rule.margin
        numbers["margin"] = margin
        pass_bound, fail_bound = -margin, 0.0
        rule_words = f"The policy allows it to be at most {margin:.4g} {worse_word}"
        said = {PASSED: "the interval lies above that, so it is not worse by more than the margin.",
                FAILED: f"the interval{family} lies wholly on the worse side and reaches past the margin: the "
                        "challenger is worse.",
                NOT_YET: "the interval reaches past the margin but not wholly onto the worse side"
                         f"{family}: nothing shows the challenger worse, and nothing yet shows it within the margin."}
    else:
        needed = max(rule.min_absolute_change, rule.min_relative_change * abs(champion))
        numbers["min_change"] = needed
        pass_bound = fail_bound = needed
        rule_words = f"The policy needs it {'higher' if rule.greater_is_better else 'lower'} by more than {needed:.4g}"
        said = {PASSED: "the interval clears that.", FAILED: f"the interval{family} lies wholly short of that.",
                NOT_YET: "the interval straddles that: the data cannot tell yet."}
    status = interval_status(gain_low, fail_high, pass_bound, fail_bound)
    sentence = f"Challenger minus champion {rule.metric}: {interval}. {rule_words}; {said[status]}"
    if status == NOT_YET:
        assumed = 0.0 if pass_bound < 0 else gain  # "not worse": if the two are in truth equally good
        needs = needed_to_decide(gain_low, gain_high, labelled, pass_bound, fail_bound, assumed, fail_z=fail_z)
        numbers["labels_needed"] = needs
        if needs:
            if_equal = " if the two are in truth equally good" if pass_bound < 0 else " if the difference stays as seen"
            sentence += (f" About {about(needs)} labelled requests would decide it{if_equal} (this run has "
                         f"{labelled:,}).")
    return GateCheck(name, status, sentence, numbers)


def estimate_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    """The first quality rule on the estimated difference for the requests without a label."""
    name = "estimated quality (unlabelled)"
    estimated = evidence.estimated
    if policy.estimated_quality == "ignore":
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the policy ignores the estimate.")
    if estimated is None:
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: {evidence.estimate_note or 'there is no estimate'}.")
    difference = estimated.difference
    numbers = {"method": estimated.method, "metric": estimated.metric, "unlabelled": estimated.unlabelled,
               "backtest_passed": estimated.usable, "failed_windows": estimated.backtest["failed_windows"],
               "mean_absolute_gap": estimated.backtest["mean_absolute_gap"]}
    if not estimated.unlabelled:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: every answered request has its label.", numbers)
    if not estimated.usable:
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: {estimated.backtest['why']}.", numbers)
    rules = [r for r in policy.rules_for(evidence.task) if r.metric == estimated.metric]
    if not rules:
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: the policy has no rule for {estimated.metric}.", numbers)
    whole = estimated.whole_run.set_index(["model", "metric"])["estimated_unlabelled"]
    row = pd.Series({"champion": whole[(CHAMPION, estimated.metric)], "challenger": whole[(CHALLENGER, estimated.metric)],
                     "difference": difference["difference"], "low": difference["low"], "high": difference["high"],
                     "method": f"{estimated.method} estimate"})
    check = metric_check(rules[0], row, unpaired=False, labelled=int(estimated.unlabelled))
    status = check.status if check.status not in (FAILED, NOT_YET) else ACTION_STATUS[policy.estimated_quality]
    if status == FAILED and check.status == NOT_YET:
        status = NOT_YET  # a policy that fails on the estimate waits on it as it waits on labels
    sentence = check.sentence.split(" About ")[0]  # labels would replace the estimate, not sharpen it
    return GateCheck(name, status, f"Estimated on {estimated.unlabelled:,} unlabelled requests ({estimated.method}, "
                                   f"back-test passed): {sentence}",
                     {**{k: v for k, v in check.numbers.items() if k != "labels_needed"}, **numbers})


# -- errors and latency ----------------------------------------------------------------------
def error_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    latency = evidence.latency
    champion, challenger = latency.loc[CHAMPION], latency.loc[CHALLENGER]
    n_a, e_a, n_b, e_b = (int(champion["requests"]), int(champion["errors"]), int(challenger["requests"]),
                          int(challenger["errors"]))
    if n_a == 0 or n_b == 0:
        return GateCheck("errors", FAILED, "One of the models answered no request, so its error rate is unknown.",
                         {"champion_requests": n_a, "challenger_requests": n_b})
    pairs = getattr(evidence, "error_pairs", None)
    paired = bool(pairs and pairs["requests"])  # shadow: errors both returned are shared, not a difference
    diff, method = error_increase(pairs, e_a, n_a, e_b, n_b, paired)
    numbers = {"champion_rate": e_a / n_a, "challenger_rate": e_b / n_b, "difference": diff.estimate,
               "low": diff.low, "high": diff.high, "allowed_increase": policy.max_error_increase,
               "max_rate": policy.max_error_rate, "method": method, **({"shared": pairs} if pairs else {})}
    rates = f"{e_b / n_b:.2%} of {n_b:,} requests against {e_a / n_a:.2%} of {n_a:,}"
    if pairs and pairs["both"]:
        rates += (f" ({pairs['both']:,} failed on both, {pairs['challenger_only']:,} on the challenger alone, "
                  f"{pairs['champion_only']:,} on the champion alone)")
    worst = max(e_a / n_a, e_b / n_b)
    if worst > policy.max_error_rate:
        who = "Both models" if min(e_a / n_a, e_b / n_b) > policy.max_error_rate else (
            "The challenger" if e_b / n_b > policy.max_error_rate else "The champion")
        return GateCheck("errors", FAILED, f"{who} failed more than {policy.max_error_rate:.0%} of requests "
                                           f"({rates}): the run cannot judge the models.", numbers)
    allowed = policy.max_error_increase
    span = f"the increase is {diff.estimate:+.2%} (95% CI {diff.low:+.2%} to {diff.high:+.2%})"
    status = interval_status(-diff.high, -diff.low, -allowed, -allowed)
    if status == PASSED:
        return GateCheck("errors", PASSED, f"Challenger errors: {rates}; {span}, within the allowed "
                                           f"+{allowed:.1%}.", numbers)
    if status == FAILED:
        return GateCheck("errors", FAILED, f"Challenger errors: {rates}; {span}, all above the allowed "
                                           f"+{allowed:.1%}.", numbers)
    needed = requests_to_decide(pairs, e_a, n_a, e_b, n_b, paired, allowed)
    numbers["requests_needed"] = needed
    more = (f" About {about(needed)} requests would decide it if the error rates stay as seen (this run has "
            f"{min(n_a, n_b):,})." if needed else " While the rates stay as seen, the increase sits on the "
            "allowance and no number of requests would decide it.")
    return GateCheck("errors", NOT_YET, f"Not yet: challenger errors: {rates}; {span}, which straddles the allowed "
                                        f"+{allowed:.1%}: too few requests to be sure.{more}", numbers)


def error_increase(pairs: dict | None, e_a: int, n_a: int, e_b: int, n_b: int, paired: bool) -> tuple[Interval, str]:
    """The challenger's error rate minus the champion's, with its interval and method's name."""
    if paired and pairs:
        return (newcombe_paired_difference(pairs["both"], pairs["challenger_only"], pairs["champion_only"],
                                           pairs["requests"]), "Newcombe paired score interval (the same requests)")
    return newcombe_difference(e_b, n_b, e_a, n_a), "Newcombe hybrid score interval"


def requests_to_decide(pairs: dict | None, e_a: int, n_a: int, e_b: int, n_b: int, paired: bool,
                       allowed: float) -> int | None:
    """The requests at which the same interval, on counts that keep this run's rates, would
    pass or fail: rare errors shrink an interval faster than one over the square root."""
    def decides(factor: float) -> bool:
        scaled = {k: round(v * factor) for k, v in pairs.items()} if paired and pairs else None
        diff, _ = error_increase(scaled, round(e_a * factor), round(n_a * factor), round(e_b * factor),
                                 round(n_b * factor), paired)
        return interval_status(-diff.high, -diff.low, -allowed, -allowed) != NOT_YET

    factor = 1.0
    while not decides(factor * 2):
        factor *= 2
        if factor > 1e6:
            return None
    low, high = factor, factor * 2
    while high - low > 0.01 * low:
        middle = (low + high) / 2
        low, high = (low, middle) if decides(middle) else (middle, high)
    return int(round(high * min(n_a, n_b)))
