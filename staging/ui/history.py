"""The History page's widgets: the champion's periods as a table, "champion as of" a chosen
time, and each entry's run and decision report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ..decision.history import ChampionPeriod, champion_as_of, history_table
from .common import RUN_KEY, go


def periods_table(periods: list[ChampionPeriod]) -> None:
    st.dataframe(history_table(periods), hide_index=True, width="stretch",
                 column_config={"why": st.column_config.TextColumn(width="large")})


def as_of(periods: list[ChampionPeriod]) -> None:
    """Who was champion at a chosen day and time."""
    left, right = st.columns(2)
    day = left.date_input("Champion as of (day)", value=pd.Timestamp.now(tz="UTC").date())
    moment = right.time_input("and time (UTC)", value=pd.Timestamp("23:59").time())
    when = pd.Timestamp.combine(day, moment).tz_localize("UTC")
    period = champion_as_of(periods, when)
    if period is None:
        st.text(f"On {when:%Y-%m-%d %H:%M} UTC the records do not say yet who was champion.")
        return
    how = "since before the records" if period.since is None else f"since {period.since}, by {period.action}"
    who = f" ({period.reviewer}: {period.reason})" if period.reviewer else ""
    st.text(f"On {when:%Y-%m-%d %H:%M} UTC the champion was v{period.version}, {how}{who}.")


def entry_links(periods: list[ChampionPeriod]) -> None:
    """An entry's run (on Compare) and its decision report (a download)."""
    decided = [p for p in periods if p.record_id]
    if not decided:
        return
    labels = {p.record_id: f"{p.since} · v{p.version} · {p.action} by {p.reviewer}" for p in reversed(decided)}
    chosen = st.selectbox("An entry", list(labels), format_func=lambda record_id: labels[record_id])
    period = next(p for p in decided if p.record_id == chosen)
    left, right = st.columns(2)
    if period.run_id and left.button("Open its run on Compare"):
        st.session_state[RUN_KEY] = period.run_id
        go("compare")
    if period.report and Path(period.report).exists():
        right.download_button("Download its decision report (HTML)", Path(period.report).read_bytes(),
                              file_name=Path(period.report).name, mime="text/html")
    elif period.action == "promote":
        right.caption("No decision report is kept for this entry.")
