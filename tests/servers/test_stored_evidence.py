"""A run's evidence is computed once, kept in its folder, and recomputed when anything it
depends on changes (results, labels, reference, status, or the evidence code)."""

import os

import pytest

import staging.evidence.cache as cache_module
from staging.evidence import EVIDENCE_FILE, stored_evidence


def test_the_analysis_is_stored_reused_and_invalidated(sandbox, finished_run, monkeypatch):
    store = sandbox.store
    path = store.folder(finished_run) / EVIDENCE_FILE
    path.unlink(missing_ok=True)
    first = stored_evidence(store, finished_run)
    assert path.exists()

    def must_not_run(*args):
        raise AssertionError("the stored evidence should have been used")

    monkeypatch.setattr(cache_module, "compute_evidence", must_not_run)
    again = stored_evidence(store, finished_run)
    assert again.agreement == first.agreement and again.labelled == first.labelled

    calls = []
    monkeypatch.setattr(cache_module, "compute_evidence", lambda s, r: calls.append(r) or first)
    results = store.folder(finished_run) / "results.parquet"
    stat = results.stat()
    os.utime(results, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # new results: recompute
    stored_evidence(store, finished_run)
    assert calls == [finished_run]

    path.write_bytes(b"not a pickle")  # a damaged file is recomputed, never trusted
    stored_evidence(store, finished_run)
    assert calls == [finished_run, finished_run]


def test_a_running_run_is_never_served_from_the_store(sandbox, finished_run, monkeypatch):
    manifest = sandbox.store.manifest(finished_run)
    monkeypatch.setattr(sandbox.store, "manifest", lambda run_id: manifest.replace(status="running"))
    calls = []
    monkeypatch.setattr(cache_module, "compute_evidence", lambda s, r: calls.append(r))
    stored_evidence(sandbox.store, finished_run)
    stored_evidence(sandbox.store, finished_run)
    assert calls == [finished_run, finished_run]


@pytest.mark.parametrize("field", ["labels_path", "reference_path"])
def test_new_labels_or_reference_change_the_fingerprint(sandbox, finished_run, tmp_path, field):
    manifest = sandbox.store.manifest(finished_run)
    before = cache_module._fingerprint(sandbox.store, manifest)
    replacement = tmp_path / "other.parquet"
    replacement.write_bytes(b"x")
    after = cache_module._fingerprint(sandbox.store, manifest.replace(**{field: str(replacement)}))
    assert before != after
