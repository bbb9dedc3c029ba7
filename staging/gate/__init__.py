"""The promotion gate: a policy (a TOML file a team versions) applied to a run's evidence.

    policy.py      GatePolicy, read from TOML; default.toml is the commented default
    checks.py      evaluate_gate: every check decided on a 95% interval, with its numbers and a sentence
    rules.py       the rules on an interval (quality, errors): passed, failed or not yet, and what would decide
    verdict.py     the statuses (passed, failed, not yet, warned, not evaluated), GateCheck, GateVerdict
(Signature compatibility, read from the registry, is compared in `staging.serving.signatures`.)
"""

from ..serving.signatures import InputSpec, SignaturePair, compare_signatures
from .checks import evaluate_gate
from .policy import DEFAULT_POLICY, GatePolicy, MetricRule, default_policy, load_policy, parse_policy
from .verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED, STATUSES, WARNED, GateCheck, GateVerdict

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
