"""The evidence of a finished run, kept in its folder (`evidence.pkl`) so that the pages stay
quick on a million requests; recomputed when anything it depends on changes.

The file is a cache of the user's own data, never the record: the record is the run's
manifest, requests and results. It starts with one line of JSON, the fingerprint of what the
evidence was computed from (the code, the run's status and files, the labels and reference);
only when that line matches is the rest unpickled. Unpickling runs whatever the file holds,
so the check keeps stale files from being loaded, not forged ones: whoever can write the run
folder can already change the run itself.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from functools import lru_cache
from pathlib import Path

from ..files import atomic_write
from ..runs import RunManifest, RunStore
from ..runs.folder import EVIDENCE, EVIDENCE_SUMMARY, REFERENCE_SCORES, REQUESTS, RESULTS
from .compute import compute_evidence
from .value import RunEvidence

EVIDENCE_FILE = EVIDENCE
SUMMARY_FILE = EVIDENCE_SUMMARY


@lru_cache(maxsize=1)
def evidence_code_hash() -> str:
    """A hash of the code that computes evidence: evidence stored by other code is stale."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for source in sorted([*(root / "evidence").glob("*.py"), *(root / "analytics").glob("*.py")]):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(store: RunStore, manifest: RunManifest) -> str:
    """What the evidence depends on: the code, the run's status and files, the labels and reference."""
    folder = store.folder(manifest.run_id)
    paths = [folder / RESULTS, folder / REQUESTS, folder / REFERENCE_SCORES,
             manifest.labels_path, manifest.reference_path]
    parts: list = [evidence_code_hash(), manifest.status, manifest.ended_at]
    for path in paths:
        stat = Path(path).stat() if path and Path(path).exists() else None
        parts.append([str(path), stat and stat.st_size, stat and stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def stored_evidence(store: RunStore, run_id: str) -> RunEvidence:
    """A run's evidence, computed once and kept in its folder until the results, the labels,
    the reference or the code change (late labels arriving recompute it). A run still going
    is computed afresh each time."""
    manifest = store.manifest(run_id)
    if manifest.running:
        return compute_evidence(store, run_id)
    path = store.folder(run_id) / EVIDENCE_FILE
    fingerprint = _fingerprint(store, manifest)
    stored = _load(path, fingerprint)
    if stored is not None:
        return stored
    result = compute_evidence(store, run_id)
    def write(partial: Path) -> None:
        with open(partial, "wb") as handle:
            handle.write(json.dumps({"fingerprint": fingerprint}).encode() + b"\n")
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)

    atomic_write(path, write)
    summary = store.folder(run_id) / SUMMARY_FILE
    summary.write_text(json.dumps({"labelled": result.labelled, "fingerprint": fingerprint}))
    return result


def evidence_summary(store: RunStore, run_id: str) -> dict | None:
    """The counts kept beside a finished run's evidence (labelled requests), or None before it
    was first computed."""
    try:
        return json.loads((store.folder(run_id) / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None


def _load(path: Path, fingerprint: str) -> RunEvidence | None:
    """The stored evidence if its header names this fingerprint; None for a missing, stale or
    damaged file (which is then recomputed)."""
    if not path.exists():
        return None
    try:
        with open(path, "rb") as handle:
            header = json.loads(handle.readline())
            if not isinstance(header, dict) or header.get("fingerprint") != fingerprint:
                return None
            stored = pickle.load(handle)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    return stored if isinstance(stored, RunEvidence) else None
