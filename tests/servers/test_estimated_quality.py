"""The estimate before labels on a real shadow replay of the credit demo (real MLflow scoring
servers): the back-test holds in week 1 and fails where the demo's concept drift is (weeks 3
to 5), so the gate does not use the estimate and says why; a run whose labels have not arrived
still shows both models' estimates and the estimated difference with its interval."""

import numpy as np
import pytest

from staging import ReplaySettings, TrafficSelection
from staging.analytics.compare import paired
from staging.evidence.answers import read_answers, reread_reference_scores
from staging.evidence.compute import estimated_quality
from staging.gate import NOT_EVALUATED
from staging.registry.scenarios import CREDIT


@pytest.fixture(scope="module")
def large_run(sandbox):
    """6,000 sampled credit requests: about 1,200 a week, enough for narrow weekly bands."""
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=6000),
                                  ReplaySettings(concurrency=4))
    handle.wait()
    assert handle.progress.status == "finished", handle.progress.reason
    return handle.run_id


def test_the_back_test_catches_the_demos_concept_drift(sandbox, large_run):
    estimated = sandbox.evidence(large_run).estimated
    assert estimated is not None and estimated.method == "CBPE"
    weeks = sorted(estimated.headline_by_window()["window"].unique())
    assert len(weeks) == 5
    failed = set(estimated.backtest["failed_windows"])
    assert weeks[0] not in failed  # before the drift, the labels fall inside the estimate's band
    assert {weeks[2], weeks[3], weeks[4]} <= failed  # from week 3 the estimate and the labels part ways
    first = estimated.headline_by_window()
    first = first[first["window"] == weeks[0]]
    assert (first["estimated_on_labelled"] - first["realised"]).abs().max() < 0.03
    assert not estimated.usable and "not trusted: the estimate failed its back-test on" in estimated.sentence()
    check = next(c for c in sandbox.gate(sandbox.evidence(large_run)).checks if c.name.startswith("estimated"))
    assert check.status == NOT_EVALUATED and "failed its back-test on" in check.sentence
    assert weeks[2] in check.sentence


def test_a_run_without_labels_still_shows_both_estimates_and_the_difference(sandbox, large_run):
    store = sandbox.store
    manifest = store.manifest(large_run)
    results = store.results(large_run)
    read = read_answers(manifest.task, manifest.task_source, results, paired(results), None)
    estimated = estimated_quality(manifest, read, store.requests(large_run), None,
                                  reread_reference_scores(store.reference_scores(large_run), read.space), "", [])
    assert not isinstance(estimated, str), estimated
    assert estimated.unlabelled == manifest.traffic.replayed
    whole = estimated.whole_run.set_index(["model", "metric"])
    for role in ("champion", "challenger"):
        assert 0.5 < whole.loc[(role, "accuracy"), "estimated"] < 1.0
    difference = estimated.difference
    assert difference["low"] < difference["difference"] < difference["high"]
    assert np.isfinite([difference["low"], difference["high"]]).all() and difference["estimate_se"] > 0
    assert not estimated.usable and "no window" in estimated.backtest["why"]
    assert "without a label" in estimated.sentence() and "not trusted" in estimated.sentence()
