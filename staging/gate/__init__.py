"""The promotion gate: a policy (a TOML file a team versions) applied to a run's evidence.

    policy.py      GatePolicy, read from TOML; default.toml is the commented default
    schema.py      every setting's type and bounds, checked strictly before a policy is used
    checks.py      evaluate_gate: every check decided on a 95% interval, with its numbers and a sentence
    rules.py       the rules on an interval (quality, errors): passed, failed or not yet, and what would decide
    verdict.py     the statuses (passed, failed, not yet, warned, not evaluated), GateCheck, GateVerdict
(Signature compatibility, read from the registry, is compared in `staging.serving.signatures`.)

The names below are loaded when first used (PEP 562), so that reading a policy (`gate.policy`)
does not load the statistics: the command line checks a policy before its heavy imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..serving.signatures import InputSpec, SignaturePair, compare_signatures
    from .checks import evaluate_gate
    from .policy import DEFAULT_POLICY, GatePolicy, MetricRule, default_policy, load_policy, parse_policy
    from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, STATUSES, WARNED, GateCheck, GateVerdict

_WHERE = {
    **dict.fromkeys(("InputSpec", "SignaturePair", "compare_signatures"), "..serving.signatures"),
    "evaluate_gate": ".checks",
    **dict.fromkeys(("DEFAULT_POLICY", "GatePolicy", "MetricRule", "default_policy", "load_policy", "parse_policy"),
                    ".policy"),
    **dict.fromkeys(("FAILED", "NOT_EVALUATED", "NOT_YET", "PASSED", "STATUSES", "WARNED", "GateCheck", "GateVerdict"),
                    ".verdict"),
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_POLICY",
    "FAILED",
    "NOT_EVALUATED",
    "NOT_YET",
    "PASSED",
    "STATUSES",
    "WARNED",
    "GateCheck",
    "GatePolicy",
    "GateVerdict",
    "InputSpec",
    "MetricRule",
    "SignaturePair",
    "compare_signatures",
    "default_policy",
    "evaluate_gate",
    "load_policy",
    "parse_policy",
]
