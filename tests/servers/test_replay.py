"""Shadow replay against real MLflow scoring servers."""

import os

import pytest

from staging import TrafficSelection
from staging.backends.process import ProcessBackend
from staging.errors import BackendError, RunError
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.roles import CHALLENGER, CHAMPION


def test_every_request_reaches_both_models_and_is_recorded(sandbox, finished_run):
    manifest = sandbox.store.manifest(finished_run)
    results = sandbox.store.results(finished_run)
    requests = sandbox.store.requests(finished_run)
    assert manifest.status == "finished" and manifest.rows == 800
    assert len(requests) == 400
    per_target = results.groupby("target")["request_id"].apply(set)
    assert per_target[CHAMPION] == per_target[CHALLENGER] == set(requests["request_id"])
    assert (results["status"] == 200).all() and (results["error"] == "").all()
    assert results["prediction"].isin(["0", "1"]).all() and results["score"].between(0, 1).all()
    assert (results["latency_ms"] > 0).all() and (results["actual_send"] >= results["intended_send"]).all()
    assert manifest.traffic.sha256 and len(manifest.traffic.sha256) == 64
    assert manifest.traffic.rows_quarantined == 18
    assert manifest.models[CHAMPION].version != manifest.models[CHALLENGER].version
    assert manifest.owner_pid != os.getpid()  # measured in a worker process, not in the app's
    scores = sandbox.store.reference_scores(finished_run)  # for prediction drift, scored before the replay
    assert scores.groupby("target").size().to_dict() == {CHAMPION: 2000, CHALLENGER: 2000}
    assert len(list((sandbox.home.root / "reference_scores").glob("credit-default-v*.parquet"))) == 2  # cached


def test_first_target_alternates(sandbox, finished_run):
    results = sandbox.store.results(finished_run).sort_values("actual_send")
    first = results.groupby("request_id").head(1)["target"]
    assert 0.3 < (first == CHAMPION).mean() < 0.7


def test_cancel_stops_the_run_and_keeps_what_was_answered(sandbox):
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=3000),
                                  ReplaySettings(concurrency=2))
    while handle.progress.completed < 20:
        handle.wait(0.2)
    handle.cancel()
    handle.wait(30)
    manifest = sandbox.store.manifest(handle.run_id)
    assert manifest.status == "cancelled"
    kept = sandbox.store.results(handle.run_id)
    assert 40 <= len(kept) < 6000 and len(kept) == manifest.rows


def test_a_second_replay_while_one_runs_is_refused(sandbox):
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=200))
    try:
        with pytest.raises(RunError, match="already running"):
            sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=10))
    finally:
        handle.cancel()
        handle.wait(30)


def test_a_server_that_dies_mid_run_degrades_the_run(demo_home):
    from staging import Sandbox

    box = Sandbox(demo_home, backend="process")
    box.start_servers("delivery-time")
    try:
        handle = box.begin_replay("delivery-time", "sample_data/delivery_traffic.parquet",
                                  TrafficSelection(sample_size=1500), ReplaySettings(concurrency=2))
        while handle.progress.completed < 30:
            handle.wait(0.2)
        box.backend.stop(box.servers[CHALLENGER])
        handle.wait(120)
        manifest = box.store.manifest(handle.run_id)
        assert manifest.status == "degraded" and "stopped answering" in manifest.end_reason
        results = box.store.results(handle.run_id)
        challenger = results[results["target"] == CHALLENGER]
        assert (challenger["status"] == 200).sum() >= 30
        assert (challenger["error"] != "").sum() > 0
        assert (results[results["target"] == CHAMPION]["status"] == 200).all()
        with pytest.raises(BackendError, match="challenger server has stopped"):
            box.begin_replay("delivery-time", "sample_data/delivery_traffic.parquet", TrafficSelection(10))
    finally:
        box.close()




def test_process_backend_reports_stopped_servers(demo_home):
    backend = ProcessBackend(demo_home)
    assert backend.sweep_leftovers() == []  # nothing left behind by a live owner


def test_a_champion_replica_gives_the_noise_floor(demo_home):
    from staging import Sandbox
    from staging.roles import REPLICA

    box = Sandbox(demo_home, backend="process")
    try:
        box.start_servers(CREDIT.model_name, replica=True)
        assert set(box.servers) == {CHAMPION, CHALLENGER, REPLICA}
        handle = box.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=90),
                                  ReplaySettings(concurrency=2))
        handle.wait(180)
        assert handle.progress.status == "finished" and handle.progress.completed == 90
        results = box.store.results(handle.run_id)
        assert results.groupby("target").size().to_dict() == {CHAMPION: 90, CHALLENGER: 90, REPLICA: 90}
        first = results.sort_values("actual_send").groupby("request_id").head(1)["target"].value_counts()
        assert set(first.index) == {CHAMPION, CHALLENGER, REPLICA}  # who goes first rotates
        analysis = box.evidence(handle.run_id)
        assert analysis.noise_floor.rate == 1.0  # the same model answers the same way
        assert analysis.agreement.rate < 1.0  # the challenger really differs
        assert REPLICA in analysis.latency.index
        sentence = analysis.noise_floor_sentence()
        assert sentence.startswith("Noise floor: a second copy of the champion disagrees with it on 0.0%")
        assert "(a real difference)" in sentence  # the challenger's label disagreements are above the floor
        assert analysis.replica_p95_ratio() > 0
        latency = next(c for c in box.gate(analysis).checks if c.name == "latency p95")
        assert "the champion's own copy measured" in latency.sentence and latency.numbers["noise_floor_high"] > 0
    finally:
        box.close()
