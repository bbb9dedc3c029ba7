"""Evidence: everything a run shows the reviewer, computed from the run and kept with it.

    value.py    RunEvidence, the frozen value the pages, the gate and the CLI read, with its sentences
    compute.py  compute_evidence: the run read from the store, labels and reference joined, analytics called
    cache.py    stored_evidence: computed once per finished run and kept in its folder
"""

from .cache import EVIDENCE_FILE, evidence_summary, stored_evidence
from .compute import compute_evidence, read_table, reference_for
from .value import RunEvidence

__all__ = [
    "EVIDENCE_FILE",
    "RunEvidence",
    "compute_evidence",
    "evidence_summary",
    "read_table",
    "reference_for",
    "stored_evidence",
]
