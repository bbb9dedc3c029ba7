"""The files of one run folder, named in one place.

    runs/<run_id>/manifest.json            the typed `RunManifest`
                  requests.parquet         the requests replayed, as validated
                  quarantine.parquet       the rows kept aside, with their reasons
                  results.jsonl            the journal, flushed per answer
                  results.parquet          the journal compacted when the run ends
                  labels.parquet           the labels joined to the run's requests (its own copy)
                  reference_scores.parquet each model's answers on the training reference
                  evidence.pkl             the computed evidence (a cache)
                  replay.log               the worker's output
                  report.html/.json, decisions/  the offline report and each decision's
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
JOURNAL = "results.jsonl"
RESULTS = "results.parquet"
REQUESTS = "requests.parquet"
QUARANTINE = "quarantine.parquet"
LABELS = "labels.parquet"
REFERENCE_SCORES = "reference_scores.parquet"
EVIDENCE = "evidence.pkl"
EVIDENCE_SUMMARY = "evidence.json"
REPLAY_LOG = "replay.log"
DECISIONS = "decisions"


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and the path of each of its files."""

    path: Path

    manifest = property(lambda self: self.path / MANIFEST)
    journal = property(lambda self: self.path / JOURNAL)
    results = property(lambda self: self.path / RESULTS)
    requests = property(lambda self: self.path / REQUESTS)
    quarantine = property(lambda self: self.path / QUARANTINE)
    labels = property(lambda self: self.path / LABELS)
    reference_scores = property(lambda self: self.path / REFERENCE_SCORES)
    evidence = property(lambda self: self.path / EVIDENCE)
    evidence_summary = property(lambda self: self.path / EVIDENCE_SUMMARY)
    replay_log = property(lambda self: self.path / REPLAY_LOG)
    decisions = property(lambda self: self.path / DECISIONS)
