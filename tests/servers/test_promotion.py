"""Gate, sign-off, promotion and rollback against the real MLflow registry."""

import dataclasses

import pytest

from staging.errors import PromotionError
from staging.gate import FAILED, STATUSES, default_policy, evaluate_gate, parse_policy
from staging.registry.scenarios import CREDIT
from staging.roles import CHALLENGER, CHAMPION


@pytest.fixture
def analysis(sandbox, finished_run):
    return sandbox.evidence(finished_run)


def test_gate_lists_every_check_with_its_numbers(sandbox, analysis):
    verdict = sandbox.gate(analysis)
    # capacity: one "not evaluated" check, or its two rules when a capacity run of these versions is
    # kept under the session's home (the capacity tests may have measured them already)
    capacity = (["capacity: sustainable rate", "capacity: spike errors"] if verdict.capacity else ["capacity"])
    # explanation: likewise, its ranking rule once the session's run has been explained
    capacity += ["explanation: feature ranking"] if verdict.explanation else ["explanation"]
    assert [c.name for c in verdict.checks] == [
        "artifact scan", "trusted model code", "run complete", "labels", "quality: accuracy", "quality: roc_auc",
        "errors", "latency p95", "latency p99", "data drift", "critical features", "prediction drift", "segments",
        "estimated quality (unlabelled)", "signature", *capacity]
    assert all(c.sentence and c.status in STATUSES for c in verdict.checks)
    assert all(c.numbers for c in verdict.checks if c.status in ("passed", "failed"))
    assert verdict.policy.sha256 == default_policy().sha256 and verdict.run_id == analysis.manifest.run_id
    assert next(c for c in verdict.checks if c.name == "signature").status == "passed"  # read from the registry
    strict = evaluate_gate(analysis, parse_policy("[latency]\nmax_p95_ratio = 0.01\n", "strict.toml"))
    assert not strict.passed and "latency p95" in [c.name for c in strict.checks if c.status == FAILED]


def test_gate_refuses_an_unfinished_run(analysis):
    cancelled = dataclasses.replace(analysis, manifest=analysis.manifest.replace(status="cancelled"))
    verdict = evaluate_gate(cancelled, default_policy())
    assert not verdict.passed and "cancelled" in verdict.reasons()[0]


def test_refused_promotions_leave_the_registry_unchanged(sandbox, analysis):
    before = sandbox.registry.aliases(CREDIT.model_name)
    with pytest.raises(PromotionError, match="reviewer"):
        sandbox.promote(analysis, "", "looks good", confirmed=True, override=True)
    with pytest.raises(PromotionError, match="not confirmed"):
        sandbox.promote(analysis, "ana", "looks good", confirmed=False, override=True)
    failing = dataclasses.replace(analysis, manifest=analysis.manifest.replace(status="degraded"))
    with pytest.raises(PromotionError, match="gate did not pass"):
        sandbox.promote(failing, "ana", "looks good", confirmed=True)
    assert sandbox.registry.aliases(CREDIT.model_name) == before
    assert sandbox.audit(CREDIT.model_name) == []


def test_promote_then_roll_back_moves_the_alias_and_keeps_a_record(sandbox, analysis):
    models = analysis.manifest.models
    record = sandbox.promote(analysis, "ana", "challenger wins on recent weeks", confirmed=True, override=True)
    assert record.policy_sha256 == default_policy().sha256 and "[errors]" in record.policy["text"]
    assert record.gate["policy"]["sha256"] == record.policy_sha256
    assert sandbox.registry.aliases(CREDIT.model_name)[CHAMPION] == models[CHALLENGER].version
    assert record.from_version == models[CHAMPION].version and record.run_id == analysis.manifest.run_id
    with pytest.raises(PromotionError, match="aliases moved"):
        sandbox.promote(analysis, "ana", "again", confirmed=True, override=True)

    undo = sandbox.rollback(CREDIT.model_name, "ben", "incident 42")
    assert sandbox.registry.aliases(CREDIT.model_name)[CHAMPION] == models[CHAMPION].version
    assert undo.undoes == record.id
    actions = [(r.action, r.reviewer) for r in sandbox.audit(CREDIT.model_name)]
    assert actions == [("promote", "ana"), ("rollback", "ben")]
    tags = sandbox.registry.version_tags(
        type(sandbox.servers[CHAMPION].model)(CREDIT.model_name, models[CHALLENGER].version))
    assert any(k.startswith("sandbox.promote.") for k in tags)
    with pytest.raises(PromotionError, match="no promotion"):
        sandbox.rollback(CREDIT.model_name, "ben", "twice")
