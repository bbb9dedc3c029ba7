"""Runs: what one replay run is (`RunManifest`), its results journal, and the store of runs.

    manifest.py   RunManifest and its parts, with to_json/from_json and a schema version
    journal.py    the results journal's format: write, read, tail, compact
    store.py      RunStore (one folder per run under the sandbox home) and RunWriter

Nothing outside this package reads a manifest's JSON by string keys.
"""

from .journal import RESULT_COLUMNS, JournalTail, read_journal
from .manifest import (
                       SCHEMA_VERSION,
                       STATUSES,
                       UNFINISHED_OUTCOMES,
                       ModelEntry,
                       RunManifest,
                       RunSummary,
                       SelectionRecord,
                       TrafficRecord,
)
from .store import RunStore, RunWriter, code_version, new_run_id, read_manifest, write_manifest

__all__ = [
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "UNFINISHED_OUTCOMES",
    "JournalTail",
    "ModelEntry",
    "RunManifest",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "SelectionRecord",
    "TrafficRecord",
    "code_version",
    "new_run_id",
    "read_journal",
    "read_manifest",
    "write_manifest",
]
