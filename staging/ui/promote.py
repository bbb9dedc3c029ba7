"""The Promote page's widgets: the policy in effect (and another one to try), the gate's
checks with their numbers, and the audit log as a table a reviewer reads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..errors import StagingError
from ..gate import FAILED, NOT_EVALUATED, PASSED, WARNED, GatePolicy, GateVerdict, parse_policy
from ..runs import RunManifest
from ..sandbox import Sandbox
from .common import show_error

AUDIT_COLUMNS = ["at", "action", "from_version", "to_version", "reviewer", "reason", "run_id", "id"]
STATUS_MARKS = {PASSED: "✅ passed", WARNED: "⚠️ warned", FAILED: "❌ failed", NOT_EVALUATED: "➖ not evaluated"}
HEADLINES = {PASSED: "Gate: :green[passed]", WARNED: "Gate: :orange[passed with warnings]",
             FAILED: "Gate: :red[not passed]"}


def policy_picker(box: Sandbox, model: str) -> GatePolicy | None:
    """The model's policy, or another TOML file the reviewer uploads; None if that one is unusable."""
    upload = st.file_uploader("Judge under another policy (a TOML file)", type=["toml"], key="policy-file",
                              help="staging/gate/default.toml shows every setting. The policy in effect is kept, "
                                   "text and SHA-256, with the decision.")
    if upload is None:
        policy = box.policy_for(model)
    else:
        try:
            policy = parse_policy(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
        except StagingError as exc:
            show_error(exc)
            return None
    st.caption(f"Policy: {policy.name} ({policy.source}) · SHA-256 {policy.sha256[:16]}…")
    with st.expander("The policy's text"):
        st.code(policy.text, language="toml")
    return policy


def show_verdict(verdict: GateVerdict, manifest: RunManifest) -> None:
    """The verdict, then every check with its status and sentence, and its numbers on demand."""
    st.subheader(HEADLINES[verdict.status])
    if manifest.split:
        st.info(f"This was a {'canary' if manifest.mode == 'canary' else 'A/B'} run: each request met one model, so "
                "its quality checks are unpaired (each model on its own requests) and wider than a shadow run's.")
    table = pd.DataFrame([{"check": c.name, "status": STATUS_MARKS[c.status], "what it says": c.sentence}
                          for c in verdict.checks])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"what it says": st.column_config.TextColumn(width="large")})
    with st.expander("The numbers behind each check"):
        st.json(verdict.as_dict()["checks"], expanded=False)


def audit_table(records: list[dict]) -> pd.DataFrame:
    """The audit records, newest first, with the columns a reviewer reads."""
    table = pd.DataFrame(records)
    return table.reindex(columns=[c for c in AUDIT_COLUMNS if c in table.columns]).iloc[::-1]
