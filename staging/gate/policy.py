"""A promotion policy: the gate's rules as a TOML file a team versions with its model.

`load_policy(path)` reads one (with `tomllib`) and refuses, in one sentence naming the key,
anything the schema (`schema.py`) does not allow: unknown keys, wrong types, numbers out of
bounds, files too large or too deep; `default_policy()` is the commented file shipped beside this module
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
from .schema import MAX_POLICY_BYTES, PolicyProblem, checked, checked_text

DEFAULT_POLICY = Path(__file__).resolve().parent / "default.toml"
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}
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


_READ: dict[tuple[str, int, int], GatePolicy] = {}  # (path, mtime, size) -> the policy read from it


def load_policy(path: str | Path) -> GatePolicy:
    """The policy in a TOML file; a `ConfigurationError` says what is wrong with it. A file too
    large to be a policy is refused by its size, before it is read; a file read once in this
    process (and unchanged since) is not read again."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key in _READ:
            return _READ[key]
        if stat.st_size > MAX_POLICY_BYTES:
            raise ConfigurationError(f"The policy {path} cannot be used: the file is {stat.st_size:,} bytes; a policy "
                                     f"may be at most {MAX_POLICY_BYTES:,} bytes.", hint=HINT)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"The policy file {path} cannot be read ({exc}).",
                                 hint="Give the path of a TOML policy file, such as staging/gate/default.toml.") from exc
    _READ[key] = policy = parse_policy(text, str(path))
    return policy


def refuse_early(argv: list[str]) -> str | None:
    """The refusal of a local policy file named with `--policy` on a command line, checked before
    anything heavy is imported (None when there is none, or it is fine: it is kept, not read
    again)."""
    named = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--policy"]
    named += [word.split("=", 1)[1] for word in argv if word.startswith("--policy=")]
    for path in named:
        if "://" in path or not Path(path).is_file():
            continue  # a URL is fetched, and a missing file refused, by the command itself
        try:
            load_policy(path)
        except ConfigurationError as exc:
            return f"error: {exc}"
    return None


HINT = "staging/gate/default.toml shows every setting, its type and its bounds."


def parse_policy(text: str, source: str = "(pasted)") -> GatePolicy:
    """The policy in `text`, checked strictly against the schema (`schema.py`) before it is used."""
    try:
        checked_text(text)
        data = tomllib.loads(text)
        return _policy(checked(data), text, source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"The policy {source} is not valid TOML: {exc}.",
                                 hint="Fix the file; " + HINT) from exc
    except RecursionError as exc:
        raise ConfigurationError(f"The policy {source} cannot be used: it nests too deeply to read.", hint=HINT) from exc
    except PolicyProblem as exc:
        raise ConfigurationError(f"The policy {source} cannot be used: {exc}.", hint=HINT) from exc


def _policy(data: dict[str, Any], text: str, source: str) -> GatePolicy:
    """A checked policy's values, with the defaults for what it leaves out."""
    quality = {task: tuple(_metric_rule(name, options) for name, options in metrics.items())
               for task, metrics in (data["quality"] if "quality" in data else DEFAULT_QUALITY).items()}
    errors, latency = data.get("errors", {}), data.get("latency", {})
    drift, segments = data.get("drift", {}), data.get("segments", {})
    capacity, explanation = data.get("capacity", {}), data.get("explanation", {})
    return GatePolicy(
        name=str(data.get("name") or Path(source).stem), text=text, source=source,
        min_labelled=int(data.get("min_labelled", 200)),
        quality=quality,
        max_error_increase=float(errors.get("max_increase", 0.01)),
        max_error_rate=float(errors.get("max_rate", 0.5)),
        max_p95_ratio=float(latency.get("max_p95_ratio", 1.5)),
        max_p99_ratio=float(latency.get("max_p99_ratio", 2.0)),
        dataset_drift=drift.get("dataset", "warn"),
        critical_features=tuple(drift.get("critical_features", ())),
        critical_drift=drift.get("critical", "fail"),
        prediction_drift=drift.get("prediction", "warn"),
        segments=segments.get("action", "fail"),
        segment_margin=float(segments.get("margin", 0.02)),
        segment_min_size=int(segments.get("min_size", 50)),
        signature=data.get("signature", {}).get("action", "fail"),
        canary_min_answers=int(data.get("canary", {}).get("min_answers", 30)),
        estimated_quality=data.get("estimate", {}).get("action", "warn"),
        capacity_min_rate_ratio=float(capacity.get("min_rate_ratio", 0.8)),
        capacity_max_spike_error_rate=float(capacity.get("max_spike_error_rate", 0.01)),
        capacity=capacity.get("action", "fail"),
        capacity_prices=_prices(capacity),
        explanation_min_ndcg=float(explanation.get("min_ndcg", 0.9)),
        explanation_max_share={name: float(share) for name, share in explanation.get("max_share", {}).items()},
        explanation=explanation.get("action", "warn"),
    )


def _prices(capacity: dict[str, Any]) -> tuple[float, float, str] | None:
    """The [capacity] section's prices: per vCPU-hour (with its currency), per GB-hour (default 0)."""
    if not {"price_vcpu_hour", "price_gb_hour", "currency"} & set(capacity):
        return None
    if "price_vcpu_hour" not in capacity or "currency" not in capacity:
        raise PolicyProblem("capacity: a price needs price_vcpu_hour and its currency (a name of at most 12 "
                            "characters, such as \"USD\"); there is no default currency")
    return (float(capacity["price_vcpu_hour"]), float(capacity.get("price_gb_hour", 0.0)), capacity["currency"].strip())


def _metric_rule(name: str, options: dict[str, Any]) -> MetricRule:
    threshold = options.get("threshold")
    return MetricRule(metric=name, rule=options.get("rule", "not_worse"), margin=float(options.get("margin", 0.0)),
                      relative=options.get("relative", False),
                      min_absolute_change=float(options.get("min_absolute_change", 0.0)),
                      min_relative_change=float(options.get("min_relative_change", 0.0)),
                      threshold=None if threshold is None else float(threshold),
                      greater_is_better=options.get("greater_is_better", name not in LOWER_IS_BETTER))
