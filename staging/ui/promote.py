"""The Promote page's widgets: the gate's checks and the audit log as tables a reviewer reads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..promotion import GateVerdict

AUDIT_COLUMNS = ["at", "action", "from_version", "to_version", "reviewer", "reason", "run_id", "id"]


def show_verdict(verdict: GateVerdict) -> None:
    """The verdict, then one line per check with its mark."""
    st.subheader(f"Gate: {':green[passed]' if verdict.passed else ':red[not passed]'}")
    for check in verdict.checks:
        mark = ":green[:material/check_circle:]" if check.passed else ":red[:material/cancel:]"
        st.markdown(f"{mark} **{check.name}**: {check.detail}")


def audit_table(records: list[dict]) -> pd.DataFrame:
    """The audit records, newest first, with the columns a reviewer reads."""
    table = pd.DataFrame(records)
    return table.reindex(columns=[c for c in AUDIT_COLUMNS if c in table.columns]).iloc[::-1]
