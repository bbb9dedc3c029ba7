"""The Compare page's labels: attaching those that arrived after the run, and the section on
quality estimated before the labels land (both models per week, estimated beside realised, the
estimated difference and whether the gate may use it)."""

from __future__ import annotations

import streamlit as st

from ..evidence import RunEvidence
from ..report import charts
from ..sandbox import Sandbox
from .common import flash
from .display import escaped, readable


def late_labels_form(box: Sandbox, run_id: str) -> None:
    """Labels that arrived after the run, attached to it (checked, joined, kept by the run)."""
    with st.expander("Attach labels that arrived later"):
        upload = st.file_uploader("Labels file (CSV, Parquet or JSON Lines; a request id and the outcome)",
                                  type=["csv", "parquet", "jsonl", "json", "gz"], key=f"late-labels-{run_id}")
        column = st.text_input("Outcome column, if it is not named after the model's target", key=f"late-col-{run_id}")
        if upload is not None and st.button("Attach these labels", key=f"attach-{run_id}"):
            path = box.keep_upload(upload.name, upload.getvalue())
            facts = box.attach_labels(run_id, path, column.strip() or None)
            flash(f"{facts['matched']:,} requests labelled; {facts['unmatched_labels']:,} labels named no request of "
                  f"this run; {facts['unreadable_lines']:,} unreadable lines skipped.")
            st.rerun()


def estimated_quality_section(evidence: RunEvidence) -> None:
    st.subheader("Quality estimated before the labels land")
    estimated = evidence.estimated
    if estimated is None:
        st.info(escaped(f"No estimate for this run: {evidence.estimate_note or 'none was made'}."))
        return
    st.write(escaped(estimated.sentence()))
    weeks = estimated.headline_by_window()
    if len(weeks) and weeks["window"].str.startswith("week of").any():
        st.altair_chart(charts.estimate_lines(weeks, estimated.metric), width="stretch")
    how = ("CBPE: each model's scores, calibrated on the labelled reference, give every request an expected "
           "outcome" if estimated.method.startswith("CBPE") else
           "DLE: a model per candidate, trained on the labelled reference, predicts each answer's error")
    st.caption(escaped(f"{how}. Solid: the estimate on all the week's requests. Dashed: what the labels that arrived say. "
               "Shaded: the estimate's band on the labelled requests (± 3 sampling errors); a dashed point outside "
               "its band means the estimate failed its back-test that week."))
    shown = weeks.drop(columns=["estimated_on_labelled"])
    st.dataframe(readable(shown.rename(columns={"window": "week", "labelled_share": "labelled share",
                                                "band_low": "band low", "band_high": "band high",
                                                "inside_band": "realised inside band"})), hide_index=True)
    backtest = estimated.backtest
    gap, coverage = backtest.get("mean_absolute_gap"), backtest.get("coverage")
    st.write(escaped("Back-test: " + (f"mean absolute gap {gap:.3f}, realised inside the band in {coverage:.0%} of the "
                              f"labelled weeks. " if gap is not None and coverage is not None else "")
             + ("The gate may use the estimate." if estimated.usable else
                f"The gate will not use it: {backtest['why']}.")))
    st.dataframe(readable(estimated.assumptions_table()), hide_index=True)
    st.caption("What the estimate assumes, checked on this run.")
