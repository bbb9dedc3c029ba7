"""A promotion policy: the gate's rules as a TOML file a team versions with its model.

`load_policy(path)` reads one (with `tomllib`) and refuses, in one sentence, anything it
cannot use; `default_policy()` is the commented file shipped beside this module
(`default.toml`, the place to read what every setting means). `GatePolicy.sha256` is the
hash of the file's exact text, which every record and report keeps beside the text itself.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

DEFAULT_POLICY = Path(__file__).resolve().parent / "default.toml"
ACTIONS = ("fail", "warn", "ignore")
RULES = ("not_worse", "better")
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}
TASKS = ("classification", "regression")
DEFAULT_QUALITY = {"classification": {"accuracy": {"rule": "not_worse", "margin": 0.02},
                                      "roc_auc": {"rule": "not_worse", "margin": 0.02}},
                   "regression": {"mae": {"rule": "not_worse", "margin": 0.02, "relative": True}}}


@dataclass(frozen=True)
class MetricRule:
    """One metric's threshold, with MLflow's `MetricThreshold` meanings (see default.toml)."""

    metric: str
    rule: str = "not_worse"
    margin: float = 0.0  # not_worse: how much worse the challenger may be
    relative: bool = False  # the margin as a share of the champion's value
    min_absolute_change: float = 0.0  # better: by at least this much
    min_relative_change: float = 0.0  # better: by at least this share of the champion's value
    threshold: float | None = None  # an absolute floor (ceiling when lower is better)
    greater_is_better: bool = True


@dataclass(frozen=True)
class GatePolicy:
    name: str
    text: str  # the file's exact text
    source: str  # where it was read from
    min_labelled: int = 200
    quality: dict[str, tuple[MetricRule, ...]] = field(default_factory=dict)  # task -> rules
    max_error_increase: float = 0.01
    max_error_rate: float = 0.5
    max_p95_ratio: float = 1.5
    max_p99_ratio: float = 2.0
    dataset_drift: str = "warn"
    critical_features: tuple[str, ...] = ()
    critical_drift: str = "fail"
    prediction_drift: str = "warn"
    estimated_quality: str = "warn"  # the estimate on unlabelled requests, used only when its back-test passed
    segments: str = "fail"
    segment_margin: float = 0.02
    segment_min_size: int = 50
    signature: str = "fail"
    canary_min_answers: int = 30
    capacity_min_rate_ratio: float = 0.8  # the challenger's sustainable rate over the champion's, at least
    capacity_max_spike_error_rate: float = 0.01  # the challenger's errors during the spike, at most
    capacity: str = "fail"  # what a capacity rule broken does
    capacity_prices: tuple[float, float, str] | None = None  # per vCPU-hour, per GB-hour, currency: the cost's
    explanation_min_ndcg: float = 0.9  # the challenger's feature ranking against the champion's (Clarify's nDCG)
    explanation_max_share: dict[str, float] = field(default_factory=dict)  # feature -> its largest share, challenger
    explanation: str = "warn"  # what an explanation rule broken does

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def rules_for(self, task: str) -> tuple[MetricRule, ...]:
        return self.quality.get("regression" if task == "regression" else "classification", ())

    def as_record(self) -> dict[str, str]:
        """What a record keeps of the policy: its name, where it came from, its hash and text."""
        return {"name": self.name, "source": self.source, "sha256": self.sha256, "text": self.text}


def default_policy() -> GatePolicy:
    return load_policy(DEFAULT_POLICY)


def load_policy(path: str | Path) -> GatePolicy:
    """The policy in a TOML file; a `ConfigurationError` says what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"The policy file {path} cannot be read ({exc}).",
                                 hint="Give the path of a TOML policy file, such as staging/gate/default.toml.") from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "(pasted)") -> GatePolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"The policy {source} is not valid TOML: {exc}.",
                                 hint="Fix the file; staging/gate/default.toml shows every setting.") from exc
    try:
        return _policy(data, text, source)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"The policy {source} cannot be used: {exc}.",
                                 hint="staging/gate/default.toml shows every setting and what it may be.") from exc


def _policy(data: dict[str, Any], text: str, source: str) -> GatePolicy:
    known = {"name", "min_labelled", "quality", "errors", "latency", "drift", "segments", "signature", "canary",
             "estimate", "capacity", "explanation"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(sorted(unknown))}; the sections are {', '.join(sorted(known))}")
    quality: dict[str, tuple[MetricRule, ...]] = {}
    # a policy with no [quality] section keeps the default rules; one that has it says them all
    for task, metrics in (data["quality"] if "quality" in data else DEFAULT_QUALITY).items():
        if task not in TASKS:
            raise ValueError(f"quality.{task} is not a task; use quality.classification or quality.regression")
        quality[task] = tuple(_metric_rule(name, options) for name, options in metrics.items())
    errors, latency = data.get("errors", {}), data.get("latency", {})
    drift, segments = data.get("drift", {}), data.get("segments", {})
    capacity, explanation = data.get("capacity", {}), data.get("explanation", {})
    for section, table in (("errors", errors), ("latency", latency), ("drift", drift), ("segments", segments),
                           ("capacity", capacity), ("explanation", explanation)):
        if not isinstance(table, dict):
            raise ValueError(f"[{section}] must be a table of settings")
    settings = {"min_rate_ratio", "max_spike_error_rate", "action", "price_vcpu_hour", "price_gb_hour", "currency"}
    unknown_capacity = set(capacity) - settings
    if unknown_capacity:
        raise ValueError(f"capacity: unknown setting(s) {', '.join(sorted(unknown_capacity))}; the settings are "
                         f"{', '.join(sorted(settings))}")
    return GatePolicy(
        name=str(data.get("name") or Path(source).stem), text=text, source=source,
        min_labelled=_count(data.get("min_labelled", 200), "min_labelled"),
        quality=quality,
        max_error_increase=_share(errors.get("max_increase", 0.01), "errors.max_increase"),
        max_error_rate=_share(errors.get("max_rate", 0.5), "errors.max_rate"),
        max_p95_ratio=_positive(latency.get("max_p95_ratio", 1.5), "latency.max_p95_ratio"),
        max_p99_ratio=_positive(latency.get("max_p99_ratio", 2.0), "latency.max_p99_ratio"),
        dataset_drift=_action(drift.get("dataset", "warn"), "drift.dataset"),
        critical_features=tuple(str(c) for c in drift.get("critical_features", ())),
        critical_drift=_action(drift.get("critical", "fail"), "drift.critical"),
        prediction_drift=_action(drift.get("prediction", "warn"), "drift.prediction"),
        segments=_action(segments.get("action", "fail"), "segments.action"),
        segment_margin=_share(segments.get("margin", 0.02), "segments.margin"),
        segment_min_size=_count(segments.get("min_size", 50), "segments.min_size"),
        signature=_action(data.get("signature", {}).get("action", "fail"), "signature.action"),
        canary_min_answers=_count(data.get("canary", {}).get("min_answers", 30), "canary.min_answers"),
        estimated_quality=_action(data.get("estimate", {}).get("action", "warn"), "estimate.action"),
        capacity_min_rate_ratio=_nonnegative(capacity.get("min_rate_ratio", 0.8), "capacity.min_rate_ratio"),
        capacity_max_spike_error_rate=_share(capacity.get("max_spike_error_rate", 0.01),
                                             "capacity.max_spike_error_rate"),
        capacity=_action(capacity.get("action", "fail"), "capacity.action"),
        capacity_prices=_prices(capacity),
        explanation_min_ndcg=_share(explanation.get("min_ndcg", 0.9), "explanation.min_ndcg"),
        explanation_max_share=_max_shares(explanation),
        explanation=_action(explanation.get("action", "warn"), "explanation.action"),
    )


def _max_shares(explanation: dict[str, Any]) -> dict[str, float]:
    """The [explanation] section's max_share: feature name -> its largest share (0 to 1)."""
    unknown = set(explanation) - {"min_ndcg", "max_share", "action"}
    if unknown:
        raise ValueError(f"explanation: unknown setting(s) {', '.join(sorted(unknown))}; the settings are action, "
                         "max_share, min_ndcg")
    shares = explanation.get("max_share", {})
    if not isinstance(shares, dict):
        raise ValueError("explanation.max_share must be a table of feature = share, e.g. { age = 0.3 }")
    return {str(name): _share(value, f"explanation.max_share.{name}") for name, value in shares.items()}


def _prices(capacity: dict[str, Any]) -> tuple[float, float, str] | None:
    """The [capacity] section's prices: per vCPU-hour (with its currency), per GB-hour (default 0)."""
    if not {"price_vcpu_hour", "price_gb_hour", "currency"} & set(capacity):
        return None
    if "price_vcpu_hour" not in capacity or not isinstance(capacity.get("currency"), str) \
            or not capacity["currency"].strip() or len(capacity["currency"]) > 12:
        raise ValueError("capacity: a price needs price_vcpu_hour and its currency (a name of at most 12 "
                         "characters, such as \"USD\"); there is no default currency")
    return (_nonnegative(capacity["price_vcpu_hour"], "capacity.price_vcpu_hour"),
            _nonnegative(capacity.get("price_gb_hour", 0.0), "capacity.price_gb_hour"), capacity["currency"].strip())


def _metric_rule(name: str, options: dict[str, Any]) -> MetricRule:
    if not isinstance(options, dict):
        raise ValueError(f"quality metric {name} must be a table of settings")
    allowed = {"rule", "margin", "relative", "min_absolute_change", "min_relative_change", "threshold",
               "greater_is_better"}
    if set(options) - allowed:
        raise ValueError(f"{name}: unknown setting(s) {', '.join(sorted(set(options) - allowed))}")
    rule = options.get("rule", "not_worse")
    if rule not in RULES:
        raise ValueError(f"{name}: rule {rule!r} is not one of {', '.join(RULES)}")
    threshold = options.get("threshold")
    return MetricRule(metric=name, rule=rule, margin=_nonnegative(options.get("margin", 0.0), f"{name}.margin"),
                      relative=bool(options.get("relative", False)),
                      min_absolute_change=_nonnegative(options.get("min_absolute_change", 0.0),
                                                       f"{name}.min_absolute_change"),
                      min_relative_change=_nonnegative(options.get("min_relative_change", 0.0),
                                                       f"{name}.min_relative_change"),
                      threshold=None if threshold is None else float(threshold),
                      greater_is_better=bool(options.get("greater_is_better", name not in LOWER_IS_BETTER)))


def _action(value: Any, where: str) -> str:
    if value not in ACTIONS:
        raise ValueError(f"{where} = {value!r} is not one of {', '.join(ACTIONS)}")
    return str(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise ValueError(f"{where} = {value!r} is not a finite number")
    return float(value)


def _nonnegative(value: Any, where: str) -> float:
    number = _number(value, where)
    if number < 0:
        raise ValueError(f"{where} = {value!r} must not be negative")
    return number


def _positive(value: Any, where: str) -> float:
    number = _number(value, where)
    if number <= 0:
        raise ValueError(f"{where} = {value!r} must be above 0")
    return number


def _share(value: Any, where: str) -> float:
    number = _number(value, where)
    if not 0 <= number <= 1:
        raise ValueError(f"{where} = {value!r} must be between 0 and 1")
    return number


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} = {value!r} must be a whole number, 0 or more")
    return int(value)
