"""Canary, A/B and the timing modes, against real MLflow scoring servers (the session's
credit champion and challenger), plus the pure plan they follow."""

import numpy as np
import pandas as pd
import pytest

from staging import TrafficSelection
from staging.errors import ConfigurationError, TrafficError
from staging.gate import parse_policy
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings
from staging.replay.plan import ab_targets
from staging.roles import CHALLENGER, CHAMPION


def replay(sandbox, settings: ReplaySettings, requests: int = 120, start=None, end=None) -> str:
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"),
                                  TrafficSelection(sample_size=requests, start=start, end=end), settings)
    handle.wait()
    assert handle.error is None, handle.error
    return handle.run_id


def test_ab_split_is_sticky_by_key(sandbox):
    run_id = replay(sandbox, ReplaySettings(mode="ab", split_key="region", challenger_share=0.5, warmup_requests=0))
    results = sandbox.store.results(run_id)
    requests = sandbox.store.requests(run_id)
    assert results.groupby("request_id").size().eq(1).all()  # one model per request
    met = results.merge(requests[["request_id", "region"]], on="request_id")
    assert met.groupby("region")["target"].nunique().eq(1).all()  # the same key always meets the same model
    expected = dict(zip(met["region"], ab_targets(met["region"], 0.5)))
    assert all(expected[r] == t for r, t in zip(met["region"], met["target"]))
    analysis = sandbox.evidence(run_id)
    assert "A/B run" in analysis.agreement_sentence()
    assert analysis.quality.loc[CHAMPION, "labelled"] + analysis.quality.loc[CHALLENGER, "labelled"] > 0
    assert set(analysis.differences["method"]) == {"unpaired bootstrap (each model's own requests)"}
    lenient = parse_policy("min_labelled = 10\n", "lenient.toml")  # 120 requests: judge quality anyway
    quality = [c for c in sandbox.gate(analysis, lenient).checks if c.name.startswith("quality")]
    assert quality and all("unpaired" in c.sentence and c.numbers["paired"] is False for c in quality)


def test_canary_ramps_through_its_steps_when_the_gates_pass(sandbox):
    run_id = replay(sandbox, ReplaySettings(mode="canary", canary_steps=(10, 50, 100), canary_max_p95_ratio=50,
                                            canary_max_error_rate=0.5), requests=150)
    manifest = sandbox.store.manifest(run_id)
    steps = manifest.summary.canary
    assert manifest.status == "finished" and [s["share"] for s in steps] == [10, 50, 100]
    assert all(s["passed"] for s in steps)
    results = sandbox.store.results(run_id)
    assert results.groupby("request_id").size().eq(1).all()
    order = sandbox.store.requests(run_id)["request_id"].tolist()
    last_step = results[results["request_id"].isin(order[100:])]
    assert (last_step["target"] == CHALLENGER).all()  # 100%: every request of the last step


def test_a_failed_gate_aborts_the_canary_and_routes_the_rest_to_the_champion(sandbox):
    run_id = replay(sandbox, ReplaySettings(mode="canary", canary_steps=(50, 100), canary_max_p95_ratio=0.01,
                                            canary_min_answers=10), requests=80)
    manifest = sandbox.store.manifest(run_id)
    assert manifest.status == "aborted"
    assert "Canary aborted at 50%" in manifest.end_reason and "p95 latency" in manifest.end_reason
    steps = manifest.summary.canary
    assert steps[0]["passed"] is False and steps[1]["share"] == 0
    order = sandbox.store.requests(run_id)["request_id"].tolist()
    results = sandbox.store.results(run_id)
    assert (results[results["request_id"].isin(order[40:])]["target"] == CHAMPION).all()


def test_fixed_rate_is_open_loop_and_latency_counts_from_the_intended_send(sandbox):
    run_id = replay(sandbox, ReplaySettings(timing="rate", rate_per_s=40, warmup_requests=0), requests=60)
    results = sandbox.store.results(run_id).sort_values("intended_send")
    intended = results.drop_duplicates("request_id")["intended_send"].to_numpy()
    assert np.allclose(np.diff(intended), 1 / 40, atol=1e-6)  # due every 25 ms, whatever the answers
    assert (results["latency_ms"] >= results["service_ms"] - 1e-9).all()
    late = (results["actual_send"] - results["intended_send"]) * 1000
    assert np.allclose(results["latency_ms"] - results["service_ms"], late.clip(lower=0), atol=1e-6)


def test_as_recorded_keeps_the_recorded_spacing_divided_by_the_speed(sandbox):
    run_id = replay(sandbox, ReplaySettings(timing="recorded", speed=3600 * 24, warmup_requests=0), requests=40,
                    start="2026-10-05", end="2026-10-07")
    requests = sandbox.store.requests(run_id)
    results = sandbox.store.results(run_id).drop_duplicates("request_id").set_index("request_id")
    recorded = (requests["timestamp"] - requests["timestamp"].iloc[0]).dt.total_seconds() / (3600 * 24)
    intended = results.loc[requests["request_id"], "intended_send"].to_numpy()
    # within a second of the recorded spacing: requests that share a whole second are spread across it
    assert np.allclose(intended - intended[0], recorded.to_numpy(), atol=1.0 / (3600 * 24) + 1e-6)


def test_settings_that_cannot_work_are_refused_with_a_message(sandbox):
    with pytest.raises(ConfigurationError, match="mode 'blue-green'"):
        ReplaySettings(mode="blue-green")
    with pytest.raises(ConfigurationError, match="above 0"):
        ReplaySettings(timing="rate", rate_per_s=0)
    with pytest.raises(TrafficError, match="split key 'customer'"):
        sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=10),
                             ReplaySettings(mode="ab", split_key="customer"))




def test_batch_mode_gives_the_same_answers_as_one_row_per_request(sandbox):
    one_by_one = replay(sandbox, ReplaySettings(concurrency=4), requests=300)
    batched = replay(sandbox, ReplaySettings(batch_size=64, warmup_requests=1), requests=300)
    single, batch = (sandbox.store.results(r).set_index(["request_id", "target"]) for r in (one_by_one, batched))
    assert len(batch) == 600 and batch.index.equals(batch.index.unique())
    joined = single.join(batch, rsuffix="_batch", how="inner")
    assert len(joined) == 600
    assert (joined["prediction"] == joined["prediction_batch"]).all()
    a, b = joined["score"].to_numpy(float), joined["score_batch"].to_numpy(float)
    assert np.allclose(a, b, rtol=1e-9, atol=1e-12), (np.nanmax(np.abs(a - b)), np.isnan(a).sum(), np.isnan(b).sum())
    per_request = batch.groupby("actual_send").size()  # the rows of one request share its send
    assert per_request.max() <= 64 and per_request.sum() == 600


def test_multi_row_requests_of_a_log_are_sent_as_recorded(sandbox, tmp_path):
    import json

    traffic = pd.read_parquet(CREDIT.file("traffic")).dropna().head(12)
    traffic["income"] = pd.to_numeric(traffic["income"], errors="coerce")
    features = list(CREDIT.numeric + CREDIT.categorical)
    lines = []
    for number, start in enumerate(range(0, 12, 3)):
        part = traffic.iloc[start:start + 3]
        lines.append(json.dumps({"request_id": f"log-{number}", "timestamp": str(part["timestamp"].iloc[0]),
                                 "body": {"dataframe_split": {"columns": features,
                                                              "data": part[features].values.tolist()}}}))
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    handle = sandbox.begin_replay(CREDIT.model_name, path, TrafficSelection(), ReplaySettings(warmup_requests=0))
    handle.wait()
    results = sandbox.store.results(handle.run_id)
    assert sorted(results["request_id"].unique()) == sorted(f"log-{n}#{k}" for n in range(4) for k in range(3))
    sends = results.groupby(["target", "actual_send"]).size()
    assert (sends == 3).all()  # three rows per request, as logged
    assert "MLflow scoring payloads" in sandbox.store.manifest(handle.run_id).traffic.validation


def test_cancel_works_while_an_open_loop_replay_waits_for_its_next_request(sandbox):
    """As recorded at real speed, the next request is minutes away; cancel must not wait for it."""
    import time

    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=50),
                                  ReplaySettings(timing="recorded", speed=1.0, warmup_requests=0))
    time.sleep(3)
    began = time.monotonic()
    handle.cancel()
    handle.wait(30)
    assert handle.done and time.monotonic() - began < 10
    manifest = sandbox.store.manifest(handle.run_id)
    assert manifest.status == "cancelled"
    assert manifest.rows >= 2  # the first request left at once and its answers are kept
