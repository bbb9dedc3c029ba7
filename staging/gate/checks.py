"""The promotion gate: a run's evidence judged under a policy, one check at a time.

Each check carries a status (see `verdict`), the numbers it decided on and one plain sentence.
Every decision rests on a 95% interval:

- quality: the challenger-minus-champion interval of each metric in the policy, paired in
  shadow runs and unpaired (each arm's own requests) in canary and A/B runs. A "not worse"
  rule passes when the interval lies above minus the margin, fails when it lies below zero
  (the challenger shown worse, and not shown within the margin; with several rules the fail
  side is widened so that together they fail equally good models at most 2.5% of the time),
  and is "not yet" in between, with the labelled requests that would decide it
  (`analytics.sample_size`);
- errors: Newcombe's interval of the error-rate increase: passed under the allowed increase,
  failed above it, not yet across it, with the requests that would decide it;
- latency: bootstrap intervals (over blocks of consecutive requests) of the p95 and p99 ratios,
  never stricter than the noise floor. Latency is a guardrail: it fails when the interval lies
  beyond the allowed ratio and warns when it shows the challenger slower with the limit inside;
  a wide interval alone says nothing, since a tail percentile of spiky traffic is unstable;
- segments: a slice shown worse by more than the margin (a one-sided test against the margin,
  Benjamini-Hochberg adjusted over the slices: its own family-wise rate);
- drift and prediction drift: the sandbox's corrected verdicts;
- signature: the challenger accepts what the champion accepts;
- artifact scan: neither model's files hold a pickle that runs code when loaded.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from ..analytics.sample_size import about, needed_to_decide
from ..analytics.segments import worse_beyond
from ..analytics.uncertainty import newcombe_difference, newcombe_paired_difference
from ..evidence import RunEvidence
from ..registry.scan import ArtifactScan
from ..roles import CHALLENGER, CHAMPION, REPLICA
from ..serving.signatures import SignaturePair, compare_signatures
from .policy import GatePolicy, MetricRule
from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, WARNED, GateCheck, GateVerdict

ACTION_STATUS = {"fail": FAILED, "warn": WARNED}
ONE_SIDED = 0.025  # the chance, shared by the policy's quality rules, of failing equally good models
Z95 = float(stats.norm.ppf(0.975))
SEGMENT_ALPHA = 0.05


def evaluate_gate(evidence: RunEvidence, policy: GatePolicy, signatures: SignaturePair | None = None,
                  scans: list[ArtifactScan] | str | None = None) -> GateVerdict:
    checks = [artifact_scan_check(scans, evidence.manifest.trusted_code), trusted_code_check(evidence),
              run_complete(evidence), labelled_enough(evidence, policy)]
    checks += quality_checks(evidence, policy)
    checks += [error_check(evidence, policy), *latency_checks(evidence, policy), drift_check(evidence, policy),
               critical_drift_check(evidence, policy), prediction_drift_check(evidence, policy),
               segment_check(evidence, policy), estimate_check(evidence, policy), signature_check(signatures, policy)]
    requests = int(evidence.latency["requests"].max()) if "requests" in evidence.latency else 0
    return GateVerdict(checks, policy, evidence.manifest.run_id, labelled=int(evidence.labelled), requests=requests)


# -- the models' files -----------------------------------------------------------------------
def artifact_scan_check(scans: list[ArtifactScan] | str | None, trusted: tuple[str, ...] = ()) -> GateCheck:
    """Fails when either model's files hold a pickle that can run other programs on load, or
    its own code (cloudpickle) that no one trusted; always evaluated when the files could be
    read, whatever the policy says."""
    name = "artifact scan"
    if scans is None or isinstance(scans, str):
        why = scans or "the models' files could not be read from the registry"
        return GateCheck(name, NOT_EVALUATED, f"Not evaluated: {why.rstrip('.')}.")
    numbers = {"scans": [scan.as_dict() for scan in scans], "trusted_code": list(trusted)}
    refused = [scan for scan in scans if scan.refused]
    if refused:
        return GateCheck(name, FAILED, " ".join(scan.sentence() for scan in refused), numbers)
    untrusted = [scan for scan in scans if scan.model_code and scan.model not in trusted]
    if untrusted:
        return GateCheck(name, FAILED, " ".join(f"{scan.model} holds its own Python code (cloudpickle), and no one "
                                                "trusted it for this run." for scan in untrusted), numbers)
    return GateCheck(name, PASSED, " ".join(scan.sentence() for scan in scans), numbers)


def trusted_code_check(evidence: RunEvidence) -> GateCheck:
    """Which model versions ran their own code because a user trusted them: a warning a reviewer sees."""
    trusted = list(evidence.manifest.trusted_code)
    if not trusted:
        return GateCheck("trusted model code", PASSED, "No model needed its own code trusted to run.",
                         {"trusted_code": []})
    verb = "ran their own" if len(trusted) > 1 else "ran its own"
    return GateCheck("trusted model code", WARNED, f"{' and '.join(trusted)} {verb} Python code (a cloudpickled "
                     "PythonModel), trusted by the user who started this run.", {"trusted_code": trusted})


# -- the run ---------------------------------------------------------------------------------
def run_complete(evidence: RunEvidence) -> GateCheck:
    status = evidence.manifest.status
    if status == "finished":
        return GateCheck("run complete", PASSED, "The run finished.", {"status": status})
    return GateCheck("run complete", FAILED, f"The run ended as '{status}'. Only a finished run can support a "
                                             "promotion.", {"status": status})


def labelled_enough(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    numbers = {"labelled": evidence.labelled, "needed": policy.min_labelled}
    answered = evidence.latency["requests"] - evidence.latency["errors"] if "errors" in evidence.latency else None
    if answered is not None and not evidence.labelled and (answered.get(CHAMPION, 1) == 0 or
                                                           answered.get(CHALLENGER, 1) == 0):
        who = "either model" if answered.get(CHAMPION, 1) == answered.get(CHALLENGER, 1) == 0 else (
            "the challenger" if answered.get(CHALLENGER, 1) == 0 else "the champion")
        return GateCheck("labels", NOT_EVALUATED, f"Not evaluated: no request was answered by {who}, so there is "
                                                  "nothing to judge against labels (the errors check says why).",
                         numbers)
    if evidence.labelled >= policy.min_labelled:
        return GateCheck("labels", PASSED, f"{evidence.labelled:,} requests have a label (at least "
                                           f"{policy.min_labelled:,} needed).", numbers)
    return GateCheck("labels", NOT_YET, f"Not yet: {evidence.labelled:,} requests have a label, and the policy needs at "
                                        f"least {policy.min_labelled:,} to judge quality. Attach the labels as they "
                                        "arrive (on Compare, or python -m staging labels FILE --run RUN_ID).",
                     {**numbers, "labels_needed": policy.min_labelled})


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


def error_increase(pairs: dict | None, e_a: float, n_a: float, e_b: float, n_b: float, paired: bool):
    """The challenger's error rate minus the champion's, with its interval and method's name."""
    if paired:
        return (newcombe_paired_difference(pairs["both"], pairs["challenger_only"], pairs["champion_only"],
                                           pairs["requests"]), "Newcombe paired score interval (the same requests)")
    return newcombe_difference(e_b, n_b, e_a, n_a), "Newcombe hybrid score interval"


def requests_to_decide(pairs: dict | None, e_a: int, n_a: int, e_b: int, n_b: int, paired: bool,
                       allowed: float) -> int | None:
    """The requests at which the same interval, on counts that keep this run's rates, would
    pass or fail: rare errors shrink an interval faster than one over the square root."""
    def decides(factor: float) -> bool:
        scaled = {k: round(v * factor) for k, v in pairs.items()} if paired else None
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


def latency_checks(evidence: RunEvidence, policy: GatePolicy) -> list[GateCheck]:
    """The p95 and p99 ratios as a guardrail (see the module docstring)."""
    ratios = evidence.latency_ratios
    if ratios is None or ratios.empty or not {"percentile", "model"} <= set(ratios.columns):
        ratios = pd.DataFrame(columns=["percentile", "model"])  # a model answered nothing: no ratio to judge
    checks = []
    for name, allowed_by_policy in (("p95", policy.max_p95_ratio), ("p99", policy.max_p99_ratio)):
        check_name = f"latency {name}"
        rows = ratios[ratios["percentile"] == name]
        row = rows[rows["model"] == CHALLENGER]
        if row.empty:
            checks.append(GateCheck(check_name, NOT_EVALUATED, "Not evaluated: one of the models answered too few "
                                                               "requests successfully to compare latency."))
            continue
        row = row.iloc[0]
        replica = rows[rows["model"] == REPLICA]
        floor = float(replica.iloc[0]["high"]) if not replica.empty else None
        allowed = max(allowed_by_policy, floor or 0.0)  # never stricter than the champion against itself
        numbers = {"ratio": float(row["estimate"]), "low": float(row["low"]), "high": float(row["high"]),
                   "allowed": allowed, "policy_allowed": allowed_by_policy, "noise_floor_high": floor,
                   "answers": int(row["answers"]), "method": str(row["method"])}
        noise = "" if floor is None else (f"; the champion's own copy measured up to {floor:.2f}x"
                                          + (f", so {allowed:.2f}x is allowed" if floor > allowed_by_policy else ""))
        text = (f"The challenger's {name} is {row['estimate']:.2f}x the champion's (95% CI {row['low']:.2f}x to "
                f"{row['high']:.2f}x; allowed {allowed_by_policy:.2f}x{noise})")
        if row["low"] > allowed:
            checks.append(GateCheck(check_name, FAILED, text + ": slower than allowed.", numbers))
        elif row["high"] <= allowed:
            checks.append(GateCheck(check_name, PASSED, text + ".", numbers))
        elif row["low"] > 1:
            checks.append(GateCheck(check_name, WARNED, text + ": the challenger is slower, and the interval "
                                                               "reaches past the limit.", numbers))
        else:
            checks.append(GateCheck(check_name, PASSED, text + ": nothing shows the challenger slower; the interval "
                                                               f"is wide because the {name} of this traffic is "
                                                               "unstable (a few slow requests move it).", numbers))
    return checks


# -- drift, segments, signature --------------------------------------------------------------
def drift_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    if policy.dataset_drift == "ignore":
        return GateCheck("data drift", NOT_EVALUATED, "Not evaluated: the policy ignores dataset drift.")
    if evidence.drift is None:
        return GateCheck("data drift", NOT_EVALUATED, "Not evaluated: the run names no training reference.")
    drifted = evidence.drifted_features
    numbers = {"drifted": drifted, "features": len(evidence.drift), "dataset_drift": evidence.dataset_drift}
    if evidence.dataset_drift:
        return GateCheck("data drift", ACTION_STATUS[policy.dataset_drift],
                         f"The traffic as a whole has drifted from the training data: {len(drifted)} of "
                         f"{len(evidence.drift)} features ({', '.join(drifted)}).", numbers)
    return GateCheck("data drift", PASSED, f"The traffic as a whole has not drifted ({len(drifted)} of "
                                           f"{len(evidence.drift)} features differ from the training data).", numbers)


def critical_drift_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    name = "critical features"
    if not policy.critical_features or policy.critical_drift == "ignore":
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the policy names no critical feature.")
    if evidence.drift is None:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the run names no training reference.")
    known = set(evidence.drift["feature"])
    missing = [f for f in policy.critical_features if f not in known]
    hit = [f for f in policy.critical_features if f in evidence.drifted_features]
    numbers = {"critical": list(policy.critical_features), "drifted": hit, "unknown": missing}
    if hit:
        return GateCheck(name, ACTION_STATUS[policy.critical_drift],
                         f"Critical features drifted: {', '.join(hit)}.", numbers)
    if missing:
        return GateCheck(name, WARNED, f"The policy names features the model does not have: {', '.join(missing)}.",
                         numbers)
    return GateCheck(name, PASSED, f"No critical feature drifted ({', '.join(policy.critical_features)}).", numbers)


def prediction_drift_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    name = "prediction drift"
    table = evidence.prediction_drift
    if policy.prediction_drift == "ignore":
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the policy ignores prediction drift.")
    if table is None or table.empty or "drifted" not in table.columns:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the models were not scored on the training reference.")
    moved = table.loc[table["drifted"].astype(bool), "model"].tolist()
    numbers = {"drifted": moved}
    challenger = table[table["model"] == CHALLENGER]
    what = ("answers (the classes it answered: it gives no single score)" if not challenger.empty and
            challenger.iloc[0].get("on") == "answered classes" else "scores")
    if CHALLENGER in moved:
        return GateCheck(name, ACTION_STATUS[policy.prediction_drift],
                         f"The challenger's {what} on the traffic differ from those on its training data "
                         f"(models whose answers moved: {', '.join(moved)}).", numbers)
    return GateCheck(name, PASSED, f"The challenger's {what} on the traffic look like those on its training "
                                   "data.", numbers)


def segment_check(evidence: RunEvidence, policy: GatePolicy) -> GateCheck:
    name = "segments"
    table = evidence.segments
    if policy.segments == "ignore":
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the policy ignores segments.")
    if evidence.manifest.split:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: a canary or A/B run has no pairs to compare slice by "
                                              "slice.")
    if table is None or table.empty:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: too few labelled requests per slice.")
    large = table[table["requests"] >= policy.segment_min_size]
    beyond = worse_beyond(large, policy.segment_margin) if "standard_error" in large else large["q_value"]
    harmed = large[beyond < SEGMENT_ALPHA].assign(q_value=beyond[beyond < SEGMENT_ALPHA])
    numbers = {"slices": int(len(large)), "harmed": harmed["slice"].tolist() if "slice" in harmed else [],
               "margin": policy.segment_margin, "min_size": policy.segment_min_size}
    if not harmed.empty:
        first = harmed.sort_values("difference").iloc[0]
        return GateCheck(name, ACTION_STATUS[policy.segments],
                         f"The challenger is worse by more than the margin of {policy.segment_margin:g} in "
                         f"{len(harmed)} slice(s); the worst: {first['slice']} ({first['difference']:+.3f}, "
                         f"q = {first['q_value']:.3g}, {int(first['requests'])} requests).", numbers)
    return GateCheck(name, PASSED, f"No slice of at least {policy.segment_min_size} labelled requests where the "
                                   f"challenger is shown worse by more than {policy.segment_margin:g} "
                                   f"({len(large)} slices, Benjamini-Hochberg adjusted).", numbers)


def signature_check(signatures: SignaturePair | None, policy: GatePolicy) -> GateCheck:
    name = "signature"
    if policy.signature == "ignore":
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: the policy ignores signatures.")
    if signatures is None:
        return GateCheck(name, NOT_EVALUATED, "Not evaluated: a model was logged without a signature (or its "
                                              "signature could not be read from the registry), so what each accepts "
                                              "cannot be compared.")
    problems = compare_signatures(signatures)
    if problems:
        return GateCheck(name, ACTION_STATUS[policy.signature],
                         "The challenger does not accept what the champion accepts: " + "; ".join(problems) + ".",
                         {"problems": problems})
    return GateCheck(name, PASSED, "The challenger accepts every input the champion accepts and answers with the "
                                   "same kind of output.", {"problems": []})
