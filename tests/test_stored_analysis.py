"""A run's analysis is computed once, kept in its folder, and recomputed when anything it
depends on changes (results, labels, reference, status, or the analysis code)."""

import os

import pytest

import staging.analysis as analysis_module
from staging.analysis import ANALYSIS_FILE, stored_analysis


def test_the_analysis_is_stored_reused_and_invalidated(sandbox, finished_run, monkeypatch):
    store = sandbox.store
    path = store.folder(finished_run) / ANALYSIS_FILE
    path.unlink(missing_ok=True)
    first = stored_analysis(store, finished_run)
    assert path.exists()

    def must_not_run(*args):
        raise AssertionError("the stored analysis should have been used")

    monkeypatch.setattr(analysis_module, "analyze_run", must_not_run)
    again = stored_analysis(store, finished_run)
    assert again.agreement == first.agreement and again.labelled == first.labelled

    calls = []
    monkeypatch.setattr(analysis_module, "analyze_run", lambda s, r: calls.append(r) or first)
    results = store.folder(finished_run) / "results.parquet"
    stat = results.stat()
    os.utime(results, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # new results: recompute
    stored_analysis(store, finished_run)
    assert calls == [finished_run]

    path.write_bytes(b"not a pickle")  # a damaged file is recomputed, never trusted
    stored_analysis(store, finished_run)
    assert calls == [finished_run, finished_run]


def test_a_running_run_is_never_served_from_the_store(sandbox, finished_run, monkeypatch):
    manifest = sandbox.store.manifest(finished_run)
    monkeypatch.setattr(sandbox.store, "manifest", lambda run_id: {**manifest, "status": "running"})
    calls = []
    monkeypatch.setattr(analysis_module, "analyze_run", lambda s, r: calls.append(r))
    stored_analysis(sandbox.store, finished_run)
    stored_analysis(sandbox.store, finished_run)
    assert calls == [finished_run, finished_run]


@pytest.mark.parametrize("field", ["labels_path", "reference_path"])
def test_new_labels_or_reference_change_the_fingerprint(sandbox, finished_run, tmp_path, field):
    manifest = sandbox.store.manifest(finished_run)
    before = analysis_module._fingerprint(sandbox.store, finished_run, manifest)
    replacement = tmp_path / "other.parquet"
    replacement.write_bytes(b"x")
    after = analysis_module._fingerprint(sandbox.store, finished_run, {**manifest, field: str(replacement)})
    assert before != after
