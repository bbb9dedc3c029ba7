"""What the gate says: each check's status and sentence, and the verdict they add up to.

A check ends as one of five statuses. Rules on an interval use the first three:

    passed         the interval shows the rule holds
    failed         the interval shows it does not (the challenger is shown worse)
    not yet        the interval straddles: the data cannot tell, and the check says how many
                   more labelled requests (or requests) would decide it
    warned         shown and recorded, never blocking (a policy's "warn")
    not evaluated  nothing to judge, with the reason

The verdict is failed when any check failed, else not yet when any check is not yet (both block
a promotion: "not yet" is not "no", but it is not "yes" either), else warned or passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..analytics.sample_size import about
from ..jsonable import plain
from .policy import GatePolicy

PASSED, WARNED, FAILED, NOT_EVALUATED, NOT_YET = "passed", "warned", "failed", "not evaluated", "not yet"
STATUSES = (PASSED, WARNED, NOT_YET, FAILED, NOT_EVALUATED)
BLOCKING = (FAILED, NOT_YET)


@dataclass(frozen=True)
class GateCheck:
    name: str
    status: str
    sentence: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Neither failed nor not yet: a warned or unevaluated check does not block a promotion."""
        return self.status not in BLOCKING


@dataclass(frozen=True)
class GateVerdict:
    checks: list[GateCheck]
    policy: GatePolicy
    run_id: str = ""
    labelled: int = 0
    requests: int = 0
    capacity: dict | None = None  # the capacity run the capacity checks read (`CapacityResult.as_dict`)
    explanation: dict | None = None  # the run's explanation the explanation checks read (`Explanation.as_dict`)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not any(c.status in BLOCKING for c in self.checks)

    @property
    def status(self) -> str:
        if any(c.status == FAILED for c in self.checks) or not self.checks:
            return FAILED
        if any(c.status == NOT_YET for c in self.checks):
            return NOT_YET
        return WARNED if any(c.status == WARNED for c in self.checks) else PASSED

    def _most(self, key: str) -> int | None:
        counts = [int(c.numbers[key]) for c in self.checks if c.status == NOT_YET and c.numbers.get(key)]
        return max(counts) if counts else None

    @property
    def labels_needed(self) -> int | None:
        """The labelled requests at which every undecided quality rule would decide (None when none waits)."""
        return self._most("labels_needed")

    @property
    def requests_needed(self) -> int | None:
        """The requests at which the undecided errors rule would decide (None when it decided)."""
        return self._most("requests_needed")

    def deciding_checks(self, most: int = 5) -> list[GateCheck]:
        """The checks that decided the verdict, for a summary: those that failed or cannot decide
        yet, else the quality rules (which say their rule and interval)."""
        blocking = [c for c in self.checks if c.status in (FAILED, NOT_YET)]
        return (blocking or [c for c in self.checks if c.name.startswith("quality")])[:most]

    def reasons(self) -> list[str]:
        return [c.sentence for c in self.checks if c.status in BLOCKING]

    def headline(self) -> str:
        """The verdict in one sentence a stakeholder reads, with what would decide a "not yet"."""
        failed = [c.name for c in self.checks if c.status == FAILED]
        waiting = [c.name for c in self.checks if c.status == NOT_YET]
        if failed:
            worse = all(name.startswith(("quality", "segments")) for name in failed)
            return f"Failed: {', '.join(failed)}." + (" The evidence shows the challenger worse than the policy allows."
                                                      if worse else " Each check below says why.")
        if waiting:
            needs = []
            if self.labels_needed:
                needs.append(f"about {about(self.labels_needed)} labelled requests (the run has {self.labelled:,})")
            if self.requests_needed:
                needs.append(f"about {about(self.requests_needed)} requests (the run has {self.requests:,})")
            need = f" It would need {' and '.join(needs)}." if needs else ""
            why = (": nothing shows the challenger worse, and nothing yet shows it within the policy's margin"
                   if all(name.startswith("quality") for name in waiting) else "")
            return f"Not yet: the evidence cannot decide {', '.join(waiting)}{why}.{need}"
        warned = [c.name for c in self.checks if c.status == WARNED]
        if warned:
            return f"Passed, with warnings: {', '.join(warned)}."
        return "Passed: every rule the policy sets holds on this run's evidence."

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "passed": self.passed, "headline": self.headline(),
                "labels_needed": self.labels_needed, "labelled": self.labelled,
                "requests_needed": self.requests_needed, "requests": self.requests,
                "policy": {"name": self.policy.name, "source": self.policy.source, "sha256": self.policy.sha256},
                "checks": [plain(asdict(c)) for c in self.checks],
                "deciding": [c.name for c in self.deciding_checks()], "capacity": plain(self.capacity),
                "explanation": plain(self.explanation)}
