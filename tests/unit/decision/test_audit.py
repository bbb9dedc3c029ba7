"""The audit chain in its file: every kind of tampering is found and named, a torn line does not
crash a reader, and the champion's history is read from it. (The registry's anchors, the lock
and a real promotion race are in tests/test_record.py.)"""

import json

import pandas as pd
import pytest

from staging import SandboxHome
from staging.decision.audit import GENESIS, AuditChain, record_hash
from staging.decision.history import champion_as_of, champion_history, consistency, history_table


def _chain(tmp_path, n=4) -> AuditChain:
    chain = AuditChain(SandboxHome(tmp_path))
    for i in range(n):
        action = "promote" if i % 2 == 0 else "rollback"
        versions = ("1", "2") if action == "promote" else ("2", "1")
        chain.append(chain.seal({"id": f"r{i}", "at": f"2026-11-0{i + 1}T10:00:00+0000", "action": action,
                                 "model": "m", "from_version": versions[0], "to_version": versions[1],
                                 "reviewer": "ana", "reason": f"step {i}", "gate": {"status": "passed"}}))
    return chain


def _lines(chain):
    return chain.path.read_text().splitlines()


def _write(chain, lines):
    chain.path.write_text("\n".join(lines) + "\n")


def test_an_untouched_chain_verifies(tmp_path):
    chain = _chain(tmp_path)
    result = chain.verify()
    assert result.ok and result.records == 4 and result.sentence().startswith("Verified: 4 records")
    records = chain.raw_records()
    assert records[0]["prev_hash"] == GENESIS and records[1]["prev_hash"] == records[0]["hash"]
    assert all(r["hash"] == record_hash(r) for r in records)


def test_an_edited_record_is_named(tmp_path):
    chain = _chain(tmp_path)
    lines = _lines(chain)
    record = json.loads(lines[1])
    record["from_version"] = "7"  # a rollback target that never passed a gate
    lines[1] = json.dumps(record)
    _write(chain, lines)
    result = chain.verify()
    assert not result.ok and "record r1 (line 2) was edited" in result.problems[0]


def test_a_deleted_record_is_named_by_the_one_after_it(tmp_path):
    chain = _chain(tmp_path)
    lines = _lines(chain)
    del lines[1]
    _write(chain, lines)
    result = chain.verify()
    assert not result.ok and "record r2 (line 2) does not follow the record before it" in result.problems[0]


def test_reordered_records_are_found(tmp_path):
    chain = _chain(tmp_path)
    lines = _lines(chain)
    lines[1], lines[2] = lines[2], lines[1]
    _write(chain, lines)
    result = chain.verify()
    assert not result.ok and "record r2 (line 2)" in result.problems[0]


def test_a_rewritten_chain_passes_in_the_file_but_not_against_its_anchors(tmp_path):
    chain = _chain(tmp_path)
    anchors = {r["id"]: ("m", r["to_version"], r["hash"]) for r in chain.raw_records()}
    records = chain.raw_records()
    chain.path.write_text("")
    for record in records:  # someone with write access rewrites the whole chain, hashes and all
        body = {k: v for k, v in record.items() if k not in ("hash", "prev_hash")}
        if body["id"] == "r1":
            body["reason"] = "quietly changed"
        chain.append(chain.seal(body))
    assert chain.verify().ok
    result = chain.verify(lambda: anchors)
    assert not result.ok and "record r1 does not match its anchor" in result.problems[0]


def test_a_dropped_last_record_is_caught_by_its_anchor(tmp_path):
    chain = _chain(tmp_path)
    anchors = {r["id"]: ("m", r["to_version"], r["hash"]) for r in chain.raw_records()}
    _write(chain, _lines(chain)[:-1])
    assert chain.verify().ok  # no gap in the file
    result = chain.verify(lambda: anchors)
    assert not result.ok and "record r3 is anchored in the registry (m v1) but missing from the log" in result.problems[0]


def test_a_torn_line_is_reported_and_readers_carry_on(tmp_path):
    chain = _chain(tmp_path)
    with open(chain.path, "a") as handle:
        handle.write('{"id": "r9", "action": "prom')  # a crash mid-write
    result = chain.verify()
    assert not result.ok and "line 5 is torn" in result.problems[0]
    assert [r["id"] for r in chain.raw_records()] == ["r0", "r1", "r2", "r3"]
    periods = champion_history(chain.records("m"))
    assert [p.version for p in periods] == ["1", "2", "1", "2", "1"]


def test_records_from_before_the_chain_are_counted_not_trusted(tmp_path):
    home = SandboxHome(tmp_path).ensure()
    home.audit_log.write_text(json.dumps({"id": "old", "action": "promote", "model": "m", "from_version": "1",
                                          "to_version": "2", "reviewer": "x", "reason": "y"}) + "\n")
    chain = AuditChain(home)
    chain.append(chain.seal({"id": "new", "action": "rollback", "model": "m", "from_version": "2", "to_version": "1",
                             "reviewer": "x", "reason": "z"}))
    result = chain.verify()
    assert result.ok and result.legacy == 1 and "predate the chain" in result.sentence()
    with open(chain.path, "a") as handle:  # but a record without a hash after the chain began is tampering
        handle.write(json.dumps({"id": "sneaky", "action": "promote", "model": "m"}) + "\n")
    assert "sneaky" in chain.verify().problems[0]


def test_appending_an_unsealed_record_is_refused(tmp_path):
    with pytest.raises(ValueError):
        AuditChain(SandboxHome(tmp_path)).append({"id": "x"})


def test_champion_history_and_as_of(tmp_path):
    chain = _chain(tmp_path)
    periods = champion_history(chain.records("m"))
    assert [(p.version, p.action) for p in periods] == [("1", "before the records"), ("2", "promote"),
                                                        ("1", "rollback"), ("2", "promote"), ("1", "rollback")]
    assert periods[1].until == periods[2].since and periods[-1].until is None
    assert champion_as_of(periods, pd.Timestamp("2026-11-01T12:00Z")).version == "2"
    assert champion_as_of(periods, pd.Timestamp("2026-11-02T09:00Z")).version == "2"
    assert champion_as_of(periods, pd.Timestamp("2026-11-02T11:00Z")).version == "1"
    assert champion_as_of(periods, pd.Timestamp("2026-10-01T00:00Z")).action == "before the records"
    table = history_table(periods)
    assert table.iloc[0]["until"] == "now" and table.iloc[0]["champion"] == "v1"
    assert consistency(periods, "1") is None and "outside the sandbox" in consistency(periods, "2")
