"""The watcher's parts without a server: the signature against MLflow's own signer, the refusals,
the queue's newest-wins and resume after a crash, the schedule's rhythm, durations and rules."""

from __future__ import annotations

import json

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from staging.errors import ConfigurationError
from staging.home import SandboxHome
from staging.watch import ComparisonQueue, DeliveryRefused, Job, WatchRule, parse_duration, read_delivery, sign
from staging.watcher import Watcher, WatchSettings

SECRET = "a-shared-secret-of-some-length"
BODY = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "t",
                   "data": {"name": "m", "alias": "challenger", "version": "7"}})


def headers(delivery_id="d1", stamp=1_000_000, signature=None):
    return {"X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": str(stamp),
            "X-MLflow-Signature": signature if signature is not None else sign(SECRET, delivery_id, str(stamp), BODY)}


def test_the_signature_is_mlflows_own():
    assert sign(SECRET, "d1", "1000000", BODY) == _generate_hmac_signature(SECRET, "d1", "1000000", BODY)


def test_a_signed_fresh_delivery_is_read():
    delivery = read_delivery(SECRET, headers(), BODY.encode(), now=1_000_010)
    assert (delivery.event, delivery.model, delivery.version, delivery.alias) == \
        ("model_version_alias.created", "m", "7", "challenger")


@pytest.mark.parametrize("given, body, now, status", [
    ({"signature": ""}, BODY, 1_000_000, 401),
    ({"signature": sign("another-secret-entirely", "d1", "1000000", BODY)}, BODY, 1_000_000, 401),
    ({}, BODY.replace('"7"', '"8"'), 1_000_000, 401),  # the body changed after signing
    ({}, BODY, 1_000_000 + 301, 400),  # stale
    ({}, BODY, 1_000_000 - 301, 400),  # from the future
    ({"stamp": "soon"}, BODY, 1_000_000, 400),
])
def test_unsigned_forged_tampered_stale_and_malformed_deliveries_are_refused(given, body, now, status):
    stamp = given.get("stamp", 1_000_000)
    signature = given.get("signature")
    sent = {"X-MLflow-Delivery-Id": "d1", "X-MLflow-Timestamp": str(stamp),
            "X-MLflow-Signature": signature if signature is not None else sign(SECRET, "d1", str(stamp), BODY)}
    with pytest.raises(DeliveryRefused) as refused:
        read_delivery(SECRET, sent, body.encode(), now=now)
    assert refused.value.status == status and refused.value.reason


def test_a_signed_body_that_is_not_an_event_is_refused():
    body = json.dumps({"data": []})
    sent = {"X-MLflow-Delivery-Id": "d", "X-MLflow-Timestamp": "5", "X-MLflow-Signature": sign(SECRET, "d", "5", body)}
    with pytest.raises(DeliveryRefused) as refused:
        read_delivery(SECRET, sent, body.encode(), now=5)
    assert refused.value.status == 400


def test_newest_version_wins_and_older_ones_are_superseded(tmp_path):
    queue = ComparisonQueue(tmp_path)
    first, _ = queue.add(Job.new("m", "3", "webhook", "a"))
    running = queue.take(0.1)
    assert running is not None and running.id == first.id
    kept = {}
    for version in ("5", "4", "6"):
        kept[version], cancel = queue.add(Job.new("m", version, "webhook"))
        if version == "5":
            assert cancel == [first.id]  # the running v3 is to be cancelled
    assert kept["4"].state == "superseded" and "v5" in kept["4"].reason  # arrived late, older than v5
    states = {j.version: j.state for j in queue.jobs("m")}
    assert states == {"3": "superseded", "5": "superseded", "4": "superseded", "6": "queued"}
    assert queue.add(Job.new("other", "1", "webhook"))[0].state == "queued"  # per model


def test_a_scheduled_job_waits_behind_nothing(tmp_path):
    queue = ComparisonQueue(tmp_path)
    queue.add(Job.new("m", "2", "webhook"))
    assert queue.add(Job.new("m", "", "schedule"))[0].state == "superseded"


def test_a_restart_resumes_the_running_job_and_gives_up_after_three_tries(tmp_path):
    queue = ComparisonQueue(tmp_path)
    job, _ = queue.add(Job.new("m", "2", "webhook"))
    for attempt in (1, 2, 3):
        taken = ComparisonQueue(tmp_path).take(0.1)  # a new process each time
        assert taken is not None and taken.attempts == attempt
        resumed = ComparisonQueue(tmp_path).resume()
        assert [j.id for j in resumed] == ([job.id] if attempt < 3 else [])
    assert ComparisonQueue(tmp_path).jobs()[0].state == "error"


def test_a_settling_job_is_not_taken_before_its_time(tmp_path):
    queue = ComparisonQueue(tmp_path)
    queue.add(Job.new("m", "2", "webhook"))
    assert queue.take(0.1, settle_s=60) is None
    assert queue.take(0.1, settle_s=0) is not None


def test_delivery_ids_are_remembered_across_processes(tmp_path):
    ComparisonQueue(tmp_path).remember("abc")
    assert ComparisonQueue(tmp_path).seen("abc") and not ComparisonQueue(tmp_path).seen("abd")


def test_the_schedule_keeps_its_rhythm_across_restarts(tmp_path):
    home = SandboxHome(tmp_path)
    settings = WatchSettings(rules={"m": WatchRule("m", "traffic.csv")}, secret=SECRET, every_s=3600)
    watcher = Watcher(home, settings, lambda message: None)
    assert [j.trigger for j in watcher.schedule_due(10_000)] == ["schedule"]
    assert watcher.schedule_due(10_100) == []
    ComparisonQueue(home.watch_dir).update(watcher.queue.jobs()[0].id, state="done")
    again = Watcher(home, settings, lambda message: None)  # restarted
    assert again.schedule_due(10_000 + 3599) == [] and len(again.schedule_due(10_000 + 3600)) == 1


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("24h", 86400), ("7d", 604800),
                                           ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text, "--every") == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "-1h", "0h", "1w", "a lot"])
def test_a_bad_duration_is_one_sentence(text):
    with pytest.raises(ConfigurationError, match="--every"):
        parse_duration(text, "--every")


def test_rules_say_which_events_start_a_comparison():
    alias = WatchRule("m", "t.csv")
    assert alias.triggered_by("model_version_alias.created", "challenger")
    assert not alias.triggered_by("model_version_alias.created", "champion")
    assert not alias.triggered_by("model_version.created", "")
    assert WatchRule("m", "t.csv", trigger="version").triggered_by("model_version.created", "")
    with pytest.raises(ConfigurationError):
        WatchRule("m", "t.csv", trigger="always")
