"""The record of a decision: sign-off, promotion and rollback, the audit chain, and history.

- `record`: `AuditRecord`, one promotion, rollback or gated verdict as a frozen, schema-versioned value;
- `audit`: the hash-chained log (seal, append, verify against the registry's anchors, lock);
- `promotion`: the alias moved under the chain's lock, with conflicts and anchors;
- `gated`: a verdict the watcher reached, sealed as a `gated` record and tagged on the version; no alias moves;
- `history`: who was champion when, read back from the chain;
- `desk`: `DecisionDesk`, the gate, report, promote and rollback calls the `Sandbox` delegates to.

Outside this package no string key of an audit record is read.
"""
