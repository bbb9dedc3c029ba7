"""`RunEvidence`: what one run shows, as a frozen value, with the plain-language sentences
written under the charts (kept here so they can be tested).

It is computed by `compute.compute_evidence` and kept in the run folder by `cache`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analytics.compare import Agreement, flip_sentence
from ..analytics.drift import drift_sentence
from ..analytics.segments import worst_segment_sentence
from ..analytics.uncertainty import Interval
from ..roles import CHALLENGER, CHAMPION, REPLICA
from ..runs import RunManifest
from .estimated import EstimatedQuality


@dataclass(frozen=True)
class RunEvidence:
    """Everything the evidence pages, the gate and the command line show about one run."""

    manifest: RunManifest
    task: str
    agreement: Agreement
    quality: pd.DataFrame | None
    labelled: int
    latency: pd.DataFrame
    drift: pd.DataFrame | None
    dataset_drift: bool
    disagreements: pd.DataFrame
    challenger_right_when_differ: float | None
    weekly: pd.DataFrame
    noise_floor: Agreement | None = None
    accuracy_difference: Interval | None = None  # challenger minus champion, paired bootstrap 95% CI
    mcnemar_p: float | None = None
    kappa: float | None = None
    segments: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None  # every metric, challenger minus champion, 95% CI
    wilcoxon_p: float | None = None  # regression: paired absolute errors
    drift_timeline: pd.DataFrame | None = None  # feature x day (or week)
    prediction_drift: pd.DataFrame | None = None
    score_histograms: pd.DataFrame | None = None
    latency_bins: pd.DataFrame | None = None  # histogram per model
    latency_intervals: pd.DataFrame | None = None  # percentiles with bootstrap intervals
    latency_timeline: pd.DataFrame | None = None  # p50/p95 over the replay
    latency_ratio: dict | None = None  # per request, challenger / champion
    latency_ratios: pd.DataFrame | None = None  # p95 and p99 ratios over the champion's, with intervals
    errors: pd.DataFrame | None = None  # failed answers by kind, with the server's message
    error_pairs: dict | None = None  # shadow runs: requests failed on both, on the challenger only, the champion only
    flips: pd.DataFrame | None = None  # champion's class x challenger's class (classifiers)
    score_gaps: pd.DataFrame | None = None  # histogram of challenger score minus champion score
    estimated: EstimatedQuality | None = None  # CBPE / DLE before the labels land, with its back-test
    task_source: str = ""  # where the task came from (the model's class, a tag, the user, the answers)
    classes: tuple[str, ...] = ()  # a classifier's classes, sorted
    positive_class: str | None = None  # two classes: the one ROC AUC and precision are about
    estimate_note: str = ""  # why there is no estimate before labels ("" when there is one)
    scores_note: str = ""  # why figures that need class probabilities are missing ("" when they are not)
    prediction_sample: pd.DataFrame | None = None  # regressions: champion, challenger, truth (a sample)
    residuals: pd.DataFrame | None = None  # regressions: residual histogram per model
    per_class: pd.DataFrame | None = None  # class x (support, each model's precision, recall, F1)
    confusion: dict | None = None  # role -> true class x answered class
    weekly_story: str = ""  # when the quality difference moved and held, in one sentence ("" when it did not)
    resources: pd.DataFrame | None = None  # each server's CPU (cores) and memory (MB) over the replay, per second
    resources_note: str = ""  # why there is no resource series ("" when there is one)
    arm_windows: pd.DataFrame | None = None  # A/B runs: each arm per window of the replay (requests, errors, p95)

    @property
    def drifted_features(self) -> list[str]:
        if self.drift is None:
            return []
        return self.drift.loc[self.drift["drifted"], "feature"].tolist()

    def agreement_sentence(self) -> str:
        mode = self.manifest.mode
        if mode != "shadow":
            return (f"This was a{'n A/B' if mode == 'ab' else ' canary'} run: each request met one model, so the two "
                    "cannot be compared request by request. Quality below is each model's on its own requests.")
        if not self.agreement.compared:
            return "No request was answered by both models, so there is nothing to compare yet."
        text = (f"The challenger agrees with the champion on {self.agreement.rate:.0%} of "
                f"{self.agreement.compared:,} requests ({self.agreement.rule}).")
        if self.kappa is not None and np.isfinite(self.kappa):  # agreement beyond chance: it belongs here
            text += f" Cohen's kappa between the two models is {self.kappa:.2f}."
        if self.challenger_right_when_differ is not None:
            text += (f" Where they differ and the true outcome is known, the challenger is right "
                     f"{self.challenger_right_when_differ:.0%} of the time.")
        return text

    def latency_sentence(self) -> str:
        champion, challenger = self.latency.loc[CHAMPION], self.latency.loc[CHALLENGER]
        if not champion["requests"] and not challenger["requests"]:
            return "No request was replayed, so there is no latency to compare."
        if pd.isna(champion["p95_ms"]) or pd.isna(challenger["p95_ms"]) or not champion["p95_ms"]:
            errors = (f" Errors: the challenger failed {challenger['errors']:,} of {challenger['requests']:,} requests, "
                      f"the champion {champion['errors']:,} of {champion['requests']:,}.")
            return "Latency cannot be compared: one model answered no request successfully." + errors
        ratio = challenger["p95_ms"] / champion["p95_ms"]
        speed = "slower" if ratio > 1 else "faster"
        return (f"95% of the challenger's answers took at most {challenger['p95_ms']:.1f} ms against "
                f"{champion['p95_ms']:.1f} ms for the champion: {abs(ratio - 1):.0%} {speed}. "
                f"Errors: {challenger['error_rate']:.1%} against {champion['error_rate']:.1%}.")

    def quality_sentence(self) -> str | None:
        """The accuracy difference with its uncertainty, in words a reviewer can sign on."""
        if self.accuracy_difference is None or self.mcnemar_p is None:
            return None
        significant = self.mcnemar_p < 0.05
        return (f"Challenger accuracy minus champion accuracy: {self.accuracy_difference.text()}, on "
                f"{self.labelled:,} labelled requests. McNemar's exact test gives p = {self.mcnemar_p:.3g}: "
                + ("the difference is unlikely to be chance." if significant else
                   "a difference this size could be chance."))

    def segment_sentence(self) -> str | None:
        return None if self.segments is None else worst_segment_sentence(self.segments)

    def noise_floor_sentence(self) -> str | None:
        """What a second copy of the champion shows: the differences that are only noise."""
        if self.noise_floor is None or REPLICA not in self.latency.index:
            return None
        ratio = self.replica_p95_ratio()
        if ratio is None:
            return None
        challenger_ratio = self.latency.loc[CHALLENGER, "p95_ms"] / self.latency.loc[CHAMPION, "p95_ms"]
        if not (np.isfinite(ratio) and np.isfinite(challenger_ratio) and np.isfinite(self.agreement.rate)):
            return None
        disagreement = 1 - self.agreement.rate
        floor = 1 - self.noise_floor.rate
        labels = "a real difference" if disagreement > floor else "within the noise floor"
        speed = ("a real difference" if abs(challenger_ratio - 1) > abs(ratio - 1) else "within the noise floor")
        return (f"Noise floor: a second copy of the champion disagrees with it on {floor:.1%} of requests and its "
                f"p95 latency is {ratio:.2f}x the champion's. The challenger disagrees on {disagreement:.1%} "
                f"({labels}) and its p95 is {challenger_ratio:.2f}x ({speed}).")

    def replica_p95_ratio(self) -> float | None:
        """The champion replica's p95 over the champion's: how much latency moves by itself."""
        if REPLICA not in self.latency.index or not self.latency.loc[CHAMPION, "p95_ms"] or pd.isna(
                self.latency.loc[CHAMPION, "p95_ms"]) or pd.isna(self.latency.loc[REPLICA, "p95_ms"]):
            return None
        return float(self.latency.loc[REPLICA, "p95_ms"] / self.latency.loc[CHAMPION, "p95_ms"])

    def drift_sentence(self) -> str:
        if self.drift is None:
            return "No training reference was given for this run, so drift was not measured."
        return drift_sentence(self.drift)

    def headline(self) -> dict:
        """The numbers the headless demo prints, one dict per model."""
        out = {}
        for role in (CHAMPION, CHALLENGER):
            lat = self.latency.loc[role]
            quality = self.quality.loc[role].to_dict() if self.quality is not None else {}
            out[role] = {"version": self.manifest.version(role),
                         "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"], "p99_ms": lat["p99_ms"],
                         "error_rate": lat["error_rate"],
                         "accuracy": quality.get("accuracy"), "mae": quality.get("mae")}
        return out

    def task_sentence(self) -> str:
        """What kind of model this is, and what said so."""
        if self.task == "regression":
            kind = "A regression"
        elif len(self.classes) > 2:
            kind = f"A classifier of {len(self.classes)} classes ({', '.join(self.classes[:12])}" + (
                ", …)" if len(self.classes) > 12 else ")")
        else:
            kind = f"A classifier of two classes ({', '.join(self.classes)}; positive: {self.positive_class})" \
                if self.classes else "A classifier"
        return f"{kind}. What says so: {self.task_source or 'the run as it was recorded'}."

    def flip_sentence(self) -> str | None:
        """How the champion's classes turn into the challenger's (classifiers)."""
        return None if self.flips is None else flip_sentence(self.flips)
