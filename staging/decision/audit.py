"""The audit log as a hash chain, anchored outside the file.

Every promotion and rollback is one JSON line of `HOME/audit/promotions.jsonl`. Each record
holds `prev_hash`, the hash of the record before it (64 zeros for the first), and `hash`, the
SHA-256 of its own canonical JSON (sorted keys, no spaces, without `hash` itself). Editing a
record breaks its hash; deleting or reordering one breaks the next record's `prev_hash`; a torn
line does not parse. All of that `verify` finds in the file alone.

Anyone who can write the file can recompute every hash, or drop the last record without
leaving a gap. So each record's hash also goes onto a tag of the model version it moved to,
in the MLflow registry, a separate store (`sandbox.audit.<record id>`). `verify` checks the
chain against those anchors: a rewritten record no longer matches its anchor, and an anchor
whose record is gone names the record that was removed.

Writers take `locked()`, an exclusive lock in the sandbox home, so that two promotions at once
are serialised: the second sees the first's move and is refused as a conflict.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..home import SandboxHome
from .record import AuditRecord

GENESIS = "0" * 64
ANCHOR_PREFIX = "sandbox.audit."

Anchors = Mapping[str, tuple[str, str, str]]  # record id -> (model, version, hash) as the registry holds it


def canonical(record: Mapping[str, Any] | AuditRecord) -> bytes:
    """The bytes a record's hash is taken over: its JSON without `hash`, keys sorted, no spaces."""
    data = record.to_json() if isinstance(record, AuditRecord) else record
    body = {k: v for k, v in data.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def record_hash(record: Mapping[str, Any] | AuditRecord) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


@dataclass(frozen=True)
class Verification:
    """What `AuditChain.verify` found: ok, how many records, and each problem in words."""

    records: int
    problems: list[str] = field(default_factory=list)
    legacy: int = 0  # records written before the chain (no hash), at its start
    anchored: bool = False  # whether the registry's anchors were checked too

    @property
    def ok(self) -> bool:
        return not self.problems

    def sentence(self) -> str:
        if self.ok:
            where = " and against the registry's anchors" if self.anchored else ""
            legacy = f" ({self.legacy} earlier record(s) predate the chain)" if self.legacy else ""
            count = f"{self.records} record" + ("" if self.records == 1 else "s")
            return f"Verified: {count}, the chain holds in the file{where}{legacy}."
        return f"The audit log does not verify: {self.problems[0]}" + (
            f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else "")

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problems": self.problems, "legacy": self.legacy,
                "anchored": self.anchored, "sentence": self.sentence()}


class AuditChain:
    """The append-only, hash-chained record of promotions and rollbacks under one sandbox home."""

    def __init__(self, home: SandboxHome) -> None:
        self.path = home.ensure().audit_log
        self.lock_path = self.path.with_suffix(".lock")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access for a read-check-write sequence (a promotion or a rollback)."""
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]

    def records(self, model_name: str | None = None) -> list[AuditRecord]:
        """Every record that parses, in order, typed (a torn line is skipped here and reported by verify)."""
        return [AuditRecord.from_json(r) for r in self.raw_records(model_name)]

    def raw_records(self, model_name: str | None = None) -> list[dict[str, Any]]:
        """Every record that parses, in order, as the chain wrote it (what its hashes are taken over)."""
        rows = []
        for line in self._lines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (model_name is None or record.get("model") == model_name):
                rows.append(record)
        return rows

    def last_hash(self) -> str:
        hashed = [r for r in self.raw_records() if "hash" in r]
        return str(hashed[-1]["hash"]) if hashed else GENESIS

    def seal(self, record: AuditRecord | dict[str, Any]) -> Any:
        """The record with `prev_hash` (the chain's last) and its own `hash`, of the type given."""
        if isinstance(record, AuditRecord):
            linked = record.replace(prev_hash=self.last_hash(), hash="")
            return linked.replace(hash=record_hash(linked))
        sealed = {**record, "prev_hash": self.last_hash()}
        sealed["hash"] = record_hash(sealed)
        return sealed

    def append(self, record: AuditRecord | dict[str, Any]) -> None:
        """Write a sealed record as one line, flushed to disk before returning."""
        data = record.to_json() if isinstance(record, AuditRecord) else record
        if data.get("hash") != record_hash(data):
            raise ValueError("only a sealed record (see seal) can be appended")
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def verify(self, anchors: Callable[[], Anchors] | None = None) -> Verification:
        """Check every line, every hash and every link; with `anchors`, also the registry's tags."""
        problems: list[str] = []
        previous, count, legacy, chained = GENESIS, 0, 0, False
        seen: dict[str, dict[str, Any]] = {}
        for number, line in enumerate(self._lines(), start=1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                problems.append(f"line {number} is torn or not a JSON record (cut short, or edited by hand)")
                chained = True  # the link after it cannot be trusted either
                previous = ""
                continue
            count += 1
            name = f"record {record.get('id', '?')} (line {number})"
            if "hash" not in record:
                if chained:
                    problems.append(f"{name} has no hash: it was added by hand after the chain began")
                else:
                    legacy += 1
                continue
            chained = True
            if record.get("prev_hash") != previous:
                problems.append(f"{name} does not follow the record before it: a record before it was deleted, "
                                "reordered or inserted")
            if record_hash(record) != record["hash"]:
                problems.append(f"{name} was edited after it was written (its hash no longer matches)")
            previous = str(record["hash"])
            seen[str(record.get("id"))] = record
        if anchors is None:
            return Verification(count, problems, legacy)
        tagged = anchors()
        for record_id, record in seen.items():
            if record.get("tag_error"):
                continue  # the registry refused the tag when it was written, and the record says so
            anchor = tagged.get(record_id)
            if anchor is None:
                problems.append(f"record {record_id} has no anchor in the registry (tag {ANCHOR_PREFIX}{record_id} "
                                f"on {record.get('model')} v{record.get('to_version')})")
            elif anchor[2] != record["hash"]:
                problems.append(f"record {record_id} does not match its anchor in the registry: it was rewritten")
        for record_id, (model, version, _) in tagged.items():
            if record_id not in seen:
                problems.append(f"record {record_id} is anchored in the registry ({model} v{version}) but missing "
                                "from the log: it was deleted")
        return Verification(count, problems, legacy, anchored=True)
