"""The promotion policy's schema: every section, every setting, its type and its bounds, checked
strictly and before anything else runs.

- A file larger than `MAX_POLICY_BYTES`, or nesting brackets deeper than `MAX_DEPTH`, is refused
  before it is parsed (a scan of its characters), so a hostile file costs milliseconds.
- Every key must be known; an unknown one is refused with the known ones listed.
- Types are checked, never coerced: a flag is `true` or `false`, a count a whole number, a
  number finite, an action one of fail, warn and ignore, a list a list of names.
- Numbers lie within the bounds `default.toml` states; lists and tables have at most
  `MAX_ENTRIES` entries.

`checked(data)` returns the data as it was, or raises `PolicyProblem` with one sentence naming
the key (`quality.classification.acuracy`, `latency.max_p95`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_POLICY_BYTES = 256 * 1024  # a policy is a few kilobytes
MAX_DEPTH = 8  # tables and arrays nested (a policy needs three)
MAX_ENTRIES = 1_000  # items in a list (critical features) or a table of shares
MAX_NAME = 200  # characters in a name (the policy's, a feature's)
ACTIONS = ("fail", "warn", "ignore")
RULES = ("not_worse", "better")
TASKS = ("classification", "regression")
METRICS = {"classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "precision_macro",
                              "recall_macro", "f1_macro", "precision_weighted", "recall_weighted", "f1_weighted"),
           "regression": ("mae", "rmse", "r2")}


class PolicyProblem(ValueError):
    """What is wrong with a policy, in one sentence that names the key."""


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    whole: bool = False  # a count: an integer, never 3.0
    above_low: bool = False  # low itself is not allowed

    def check(self, value: Any, key: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyProblem(f"{key} = {_shown(value)} is not a {'whole number' if self.whole else 'number'}")
        if self.whole and not isinstance(value, int):
            raise PolicyProblem(f"{key} = {_shown(value)} must be a whole number (no decimal point)")
        if isinstance(value, float) and not math.isfinite(value):
            raise PolicyProblem(f"{key} = {_shown(value)} is not a finite number")
        if value < self.low or value > self.high or (self.above_low and value == self.low):
            side = "above" if self.above_low else "from"
            raise PolicyProblem(f"{key} = {_shown(value)} is out of bounds: it must be {side} {_bound(self.low)} "
                                f"to {_bound(self.high)}")


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, str) or value not in self.options:
            raise PolicyProblem(f"{key} = {_shown(value)} is not one of {', '.join(repr(o) for o in self.options)}")


@dataclass(frozen=True)
class Flag:
    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, bool):
            raise PolicyProblem(f"{key} = {_shown(value)} must be true or false (without quotes)")


@dataclass(frozen=True)
class Text:
    longest: int = MAX_NAME

    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > self.longest:
            raise PolicyProblem(f"{key} = {_shown(value)} must be text of 1 to {self.longest} characters")


@dataclass(frozen=True)
class Names:
    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, list):
            raise PolicyProblem(f"{key} = {_shown(value)} must be a list of names, such as [\"income\", \"age\"]")
        if len(value) > MAX_ENTRIES:
            raise PolicyProblem(f"{key} has {len(value):,} entries; at most {MAX_ENTRIES:,} are allowed")
        for item in value:
            Text().check(item, f"{key} entry")


@dataclass(frozen=True)
class Shares:
    """A table of name = share (0 to 1)."""

    def check(self, value: Any, key: str) -> None:
        if not isinstance(value, dict):
            raise PolicyProblem(f"{key} must be a table of feature = share, such as {{ age = 0.3 }}")
        if len(value) > MAX_ENTRIES:
            raise PolicyProblem(f"{key} has {len(value):,} entries; at most {MAX_ENTRIES:,} are allowed")
        for name, share in value.items():
            Text().check(name, f"{key} name")
            SHARE.check(share, f"{key}.{name}")


SHARE = Number(0, 1)
ACTION = Choice(ACTIONS)
LARGE = 1e9  # a margin or change in a regression's own unit (minutes, dollars) stays below this
METRIC_RULE: dict[str, Any] = {"rule": Choice(RULES), "margin": Number(0, LARGE), "relative": Flag(),
               "min_absolute_change": Number(0, LARGE), "min_relative_change": Number(0, 10),
               "threshold": Number(-1e12, 1e12), "greater_is_better": Flag()}
SECTIONS: dict[str, Any] = {
    "name": Text(),
    "min_labelled": Number(0, 10_000_000, whole=True),
    "quality": None,  # checked by `_quality`
    "errors": {"max_increase": SHARE, "max_rate": SHARE},
    "latency": {"max_p95_ratio": Number(0, 100, above_low=True), "max_p99_ratio": Number(0, 100, above_low=True)},
    "drift": {"dataset": ACTION, "critical_features": Names(), "critical": ACTION, "prediction": ACTION},
    "segments": {"action": ACTION, "margin": SHARE, "min_size": Number(1, 10_000_000, whole=True)},
    "signature": {"action": ACTION},
    "canary": {"min_answers": Number(1, 1_000_000, whole=True)},
    "estimate": {"action": ACTION},
    "capacity": {"min_rate_ratio": Number(0, 100), "max_spike_error_rate": SHARE, "action": ACTION,
                 "price_vcpu_hour": Number(0, 1e6), "price_gb_hour": Number(0, 1e6), "currency": Text(12)},
    "explanation": {"min_ndcg": SHARE, "action": ACTION, "max_share": Shares()},
}


def checked_text(text: str) -> None:
    """Refuse, before parsing, a file too large or nested too deep to be a policy."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_POLICY_BYTES:
        raise PolicyProblem(f"the file is {size:,} bytes; a policy may be at most {MAX_POLICY_BYTES:,} bytes")
    depth = bracket_depth(text)
    if depth > MAX_DEPTH:
        raise PolicyProblem(f"its arrays or inline tables nest {depth:,} deep; a policy nests at most {MAX_DEPTH}")


def bracket_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } outside strings and comments (a table header's
    brackets count one)."""
    deepest = depth = 0
    quote = ""
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 2
                continue
            if text.startswith(quote, index):
                index += len(quote)
                quote = ""
                continue
        elif char == "#":
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index += len(quote)
            continue
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        index += 1
    return deepest


def checked(data: dict[str, Any]) -> dict[str, Any]:
    """The parsed policy, every key known and every value of its type and within its bounds."""
    _known(data, SECTIONS, "the policy", "sections and settings")
    for key, value in data.items():
        schema = SECTIONS[key]
        if key == "quality":
            _quality(value)
        elif isinstance(schema, dict):
            if not isinstance(value, dict):
                raise PolicyProblem(f"[{key}] must be a table of settings, not {_shown(value)}")
            _known(value, schema, f"[{key}]", "settings")
            for name, setting in value.items():
                schema[name].check(setting, f"{key}.{name}")
        else:
            schema.check(value, key)
    return data


def _quality(value: Any) -> None:
    if not isinstance(value, dict):
        raise PolicyProblem(f"[quality] must be a table of tasks, not {_shown(value)}")
    _known(value, dict.fromkeys(TASKS), "[quality]", "tasks")
    for task, metrics in value.items():
        if not isinstance(metrics, dict):
            raise PolicyProblem(f"quality.{task} must be a table of metrics, not {_shown(metrics)}")
        _known(metrics, dict.fromkeys(METRICS[task]), f"[quality.{task}]", "metrics")
        for metric, rule in metrics.items():
            key = f"quality.{task}.{metric}"
            if not isinstance(rule, dict):
                raise PolicyProblem(f"{key} must be a table of settings, such as {{ rule = \"not_worse\", margin = "
                                    f"0.02 }}, not {_shown(rule)}")
            _known(rule, METRIC_RULE, f"[{key}]", "settings")
            for name, setting in rule.items():
                METRIC_RULE[name].check(setting, f"{key}.{name}")
            if rule.get("relative") and "margin" in rule:
                SHARE.check(rule["margin"], f"{key}.margin (relative: a share of the champion's value)")


def _known(table: dict, schema: dict, where: str, what: str) -> None:
    unknown = [key for key in table if key not in schema]
    if unknown:
        key = unknown[0]
        raise PolicyProblem(f"{where} has an unknown key {_shown(key)}; its {what} are {', '.join(schema)}")


def _shown(value: Any) -> str:
    """A value as the policy wrote it, cut short (a hostile value may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bound(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:g}"
