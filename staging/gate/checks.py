"""The promotion gate: a run's evidence judged under a policy, one check at a time (the rules on
an interval of the challenger's gain, quality and errors, live in `rules`).

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

from ..analytics.segments import worse_beyond
from ..capacity.result import CapacityResult
from ..evidence import RunEvidence
from ..explain.result import Explanation
from ..registry.scan import ArtifactScan
from ..roles import CHALLENGER, CHAMPION, REPLICA
from ..serving.signatures import SignaturePair, compare_signatures
from .capacity import capacity_checks
from .explanation import explanation_checks
from .policy import GatePolicy
from .rules import ACTION_STATUS, error_check, estimate_check, quality_checks
from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, WARNED, GateCheck, GateVerdict

SEGMENT_ALPHA = 0.05


def evaluate_gate(evidence: RunEvidence, policy: GatePolicy, signatures: SignaturePair | None = None,
                  scans: list[ArtifactScan] | str | None = None, capacity: CapacityResult | None = None,
                  explanation: Explanation | None = None) -> GateVerdict:
    """Every check of the policy on the run's evidence (and on the latest capacity run of its
    two versions, and the run's explanation, when there are)."""
    checks = [artifact_scan_check(scans, evidence.manifest.trusted_code), trusted_code_check(evidence),
              run_complete(evidence), labelled_enough(evidence, policy)]
    checks += quality_checks(evidence, policy)
    checks += [error_check(evidence, policy), *latency_checks(evidence, policy), drift_check(evidence, policy),
               critical_drift_check(evidence, policy), prediction_drift_check(evidence, policy),
               segment_check(evidence, policy), estimate_check(evidence, policy), signature_check(signatures, policy)]
    manifest = evidence.manifest
    checks += capacity_checks(capacity, policy, {CHAMPION: manifest.champion.version,
                                                 CHALLENGER: manifest.challenger.version})
    checks += explanation_checks(explanation, policy)
    requests = int(evidence.latency["requests"].max()) if "requests" in evidence.latency else 0
    return GateVerdict(checks, policy, manifest.run_id, labelled=int(evidence.labelled), requests=requests,
                       capacity=capacity.as_dict() if capacity is not None else None,
                       explanation=explanation.as_dict() if explanation is not None else None)


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
