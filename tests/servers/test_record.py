"""The decision's record against a real MLflow registry: two processes promoting at once (one
wins, every round), the chain's anchors in the registry, a broken chain refusing promotions
and rollbacks, and the offline report opened in Chromium with the network blocked."""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from support import ROOT

from staging import SandboxHome
from staging.decision.audit import AuditChain
from staging.errors import PromotionError
from staging.registry.client import Registry

ROUNDS = 20


def _tiny_registry(root: Path) -> SandboxHome:
    """A home whose registry holds two versions of a tiny model, champion v1 and challenger v2."""
    home = SandboxHome(root).ensure()
    registry = Registry(home)
    mlflow.set_experiment("race")
    model = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), [0, 1, 1, 1])
    for _ in range(2):
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name="tiny")
    registry.set_alias("tiny", "champion", "1")
    registry.set_alias("tiny", "challenger", "2")
    return home


def _evidence_and_verdict(run_id: str):
    """The smallest evidence a promotion reads, and a passing verdict for it."""
    from staging.evidence import RunEvidence
    from staging.gate import PASSED, GateCheck, GateVerdict, default_policy
    from staging.replay import ReplaySettings
    from staging.runs import ModelEntry, RunManifest, TrafficRecord

    manifest = RunManifest(run_id=run_id, model_name="tiny", backend="process", features=("x",),
                           models={r: ModelEntry("tiny", v, r, f"models:/tiny/{v}", "")
                                   for r, v in (("champion", "1"), ("challenger", "2"))},
                           task="classification", target=None, numeric=("x",), categorical=(),
                           traffic=TrafficRecord(path="t.csv", sha256="0" * 64), settings=ReplaySettings(),
                           status="finished")
    evidence = RunEvidence(manifest=manifest, task="classification", agreement=None, quality=None, labelled=0,
                           latency=None, drift=None, dataset_drift=False, disagreements=None,
                           challenger_right_when_differ=None, weekly=None)
    return evidence, GateVerdict([GateCheck("run complete", PASSED, "ok")], default_policy(), run_id)


def _racer(root: str, name: str, start, done, results) -> None:
    from staging.decision.promotion import promote

    home = SandboxHome(root)
    evidence, verdict = _evidence_and_verdict("race-run")
    for round_number in range(ROUNDS):
        start.wait()
        try:
            record = promote(home, verdict, evidence, name, f"round {round_number}", True)
            results.put((round_number, name, "won", record.id))
        except PromotionError as exc:
            results.put((round_number, name, "refused", exc.message))
        done.wait()


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory):
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    home = _tiny_registry(tmp_path_factory.mktemp("race-home"))
    yield home
    if previous is not None:
        os.environ["MLFLOW_TRACKING_URI"] = previous


def test_two_processes_promoting_at_once_one_wins_each_round(tiny_home):
    registry = Registry(tiny_home)
    context = multiprocessing.get_context("spawn")
    start, done, results = context.Barrier(3), context.Barrier(3), context.Queue()
    racers = [context.Process(target=_racer, args=(str(tiny_home.root), name, start, done, results))
              for name in ("ana", "ben")]
    for racer in racers:
        racer.start()
    outcomes = []
    try:
        for _ in range(ROUNDS):
            registry.set_alias("tiny", "champion", "1")  # the same evidence is fresh again
            start.wait(timeout=120)
            done.wait(timeout=120)
            outcomes += [results.get(timeout=60) for _ in range(2)]
    finally:
        for racer in racers:
            racer.join(timeout=60)
    for round_number in range(ROUNDS):
        this_round = [o for o in outcomes if o[0] == round_number]
        assert sorted(o[2] for o in this_round) == ["refused", "won"], this_round
        winner = next(o for o in this_round if o[2] == "won")
        loser = next(o for o in this_round if o[2] == "refused")
        assert "Conflict" in loser[3] and f"record {winner[3]}" in loser[3]  # the loser is told who won
    chain = AuditChain(tiny_home)
    assert len(chain.records()) == ROUNDS
    verification = chain.verify(registry.audit_anchors)
    assert verification.ok and verification.records == ROUNDS and verification.anchored, verification.problems


def test_a_broken_chain_refuses_promotion_and_rollback_and_nothing_moves(tiny_home):
    from staging.decision.promotion import promote, rollback

    registry = Registry(tiny_home)
    chain = AuditChain(tiny_home)
    original = chain.path.read_text()
    lines = original.splitlines()
    registry.set_alias("tiny", "champion", "1")
    try:
        chain.path.write_text("\n".join(lines[:-1]) + "\n")  # the last record quietly dropped
        verification = chain.verify(registry.audit_anchors)
        assert not verification.ok and "missing from the log" in verification.problems[0]
        evidence, verdict = _evidence_and_verdict("after-tamper")
        with pytest.raises(PromotionError, match="does not verify"):
            promote(tiny_home, verdict, evidence, "ana", "after tampering", True)
        with pytest.raises(PromotionError, match="does not verify"):
            rollback(tiny_home, "tiny", "ana", "after tampering")
        assert registry.aliases("tiny")["champion"] == "1"
        record = json.loads(lines[3])
        record["from_version"] = "9"
        chain.path.write_text("\n".join([*lines[:3], json.dumps(record), *lines[4:]]) + "\n")
        assert "was edited" in chain.verify(registry.audit_anchors).problems[0]
    finally:
        chain.path.write_text(original)
    assert chain.verify(registry.audit_anchors).ok


def test_the_command_line_journey(demo_home, finished_run, tmp_path):
    """gate with a report, promote, audit verify, history, rollback: as a pipeline would."""
    policy = tmp_path / "rehearsal.toml"
    policy.write_text('name = "rehearsal"\n[quality.classification.accuracy]\nrule = "not_worse"\nmargin = 0.5\n'
                      '[quality.classification.roc_auc]\nrule = "not_worse"\nmargin = 0.5\n'
                      '[latency]\nmax_p95_ratio = 50.0\nmax_p99_ratio = 50.0\n[segments]\naction = "warn"\n'
                      # the journey, not these rules: a capacity run or an explanation the session kept
                      # for these versions would otherwise decide the gate
                      '[capacity]\naction = "ignore"\n[explanation]\naction = "ignore"\n')

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "staging", *args, "--home", str(demo_home.root)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    reports = tmp_path / "reports"
    gate = cli("gate", "--model", "credit-default", "--run", finished_run, "--policy", str(policy), "--report",
               str(reports), "--json")
    assert gate.returncode == 0, gate.stderr[-2000:]
    assert (reports / "report.html").exists() and json.loads((reports / "report.json").read_text())["gate"]["passed"]
    refused = cli("promote", "--model", "credit-default", "--run", finished_run, "--reviewer", "rita", "--reason",
                  "no confirmation")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    promoted = cli("promote", "--model", "credit-default", "--run", finished_run, "--reviewer", "rita", "--reason",
                   "the rehearsal", "--yes", "--policy", str(policy), "--json")
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    record = json.loads(promoted.stdout)
    assert record["policy"]["name"] == "rehearsal" and len(record["report"]["html_sha256"]) == 64
    assert record.get("report_uri", "").startswith("runs:/")
    again = cli("promote", "--model", "credit-default", "--run", finished_run, "--reviewer", "sam", "--reason",
                "late", "--yes", "--policy", str(policy))
    assert again.returncode == 1 and "Conflict" in again.stderr and record["id"] in again.stderr
    verify = cli("audit", "verify", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"] and json.loads(verify.stdout)["anchored"]
    history = json.loads(cli("history", "--model", "credit-default", "--json").stdout)
    assert history["periods"][-1]["record_id"] == record["id"] and history["registry_disagrees"] is None
    back = cli("rollback", "--model", "credit-default", "--reviewer", "rita", "--reason", "rehearsal over", "--yes")
    assert back.returncode == 0, back.stderr
    history = json.loads(cli("history", "--model", "credit-default", "--json").stdout)
    assert history["periods"][-1]["action"] == "rollback" and history["chain"]["ok"]
    assert cli("history", "--model", "nope").returncode == 2


def test_the_report_opens_offline_with_its_charts_drawn(demo_home, finished_run, sandbox, tmp_path):
    from playwright.sync_api import sync_playwright

    files = sandbox.report(sandbox.evidence(finished_run), folder=tmp_path)
    assert files.html.stat().st_size < 5_000_000
    assert json.loads(files.json.read_text())["run"]["run_id"] == finished_run
    blocked = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                   else (blocked.append(route.request.url), route.abort()))
        page.goto(files.html.as_uri())
        assert page.locator("svg").count() >= 3
        assert page.locator("svg path, svg rect").count() > 20  # marks were drawn, not empty frames
        assert page.get_by_text("Gate checks").count() == 1 and page.get_by_text("quality: accuracy").count() >= 1
        browser.close()
    assert blocked == []  # it asked for nothing outside the file
