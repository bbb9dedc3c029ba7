"""Compare's "Why they differ" section: start an explanation (rows, background, time, scale),
follow it with a cancel button, then each model's global attributions side by side and a
disagreement picked from the table, explained for both models in words and as a chart."""

from __future__ import annotations

import streamlit as st

from ..evidence import RunEvidence
from ..explain.result import Explanation
from ..explain.settings import SCALES, ExplainSettings
from ..report import charts
from ..sandbox import Sandbox
from .display import escaped, readable


def why_they_differ(box: Sandbox, result: RunEvidence) -> None:
    st.subheader("Why they differ")
    run_id = result.manifest.run_id
    if result.manifest.mode != "shadow":
        st.info("Explanations need a shadow run: here each request met one model, so the two cannot be explained on "
                "the same requests.")
        return
    handle = box.explaining
    if handle is not None and handle.run_id == run_id and not handle.done:
        _progress(box)
        return
    stored = box.explanation(run_id)
    if stored is not None and stored.comparison(0) is not None:
        _show(stored)
        with st.expander("Explain again, with other settings"):
            _form(box, run_id)
        return
    if stored is not None and stored.status == "failed":
        st.error(escaped(f"The last explanation failed: {stored.reason}"))
    st.caption("Each model's reasons, from its own served endpoint (never loaded into the app): SHAP attributions "
               "on every disagreement up to a cap and a sample of the rest. It runs in the background; you can "
               "cancel it, and it is kept with the run.")
    _form(box, run_id)


def _form(box: Sandbox, run_id: str) -> None:
    with st.form(f"explain-{run_id}"):
        left, middle, right = st.columns(3)
        disagreements = left.number_input("disagreements to explain (at most)", min_value=0, max_value=5000, value=300)
        others = middle.number_input("agreeing requests to sample", min_value=0, max_value=5000, value=200)
        background = right.number_input("background rows (training reference)", min_value=1, max_value=500, value=25)
        left, right = st.columns(2)
        limit = left.number_input("time limit (seconds)", min_value=10, max_value=3600, value=600)
        scale = right.selectbox("a classifier's output as", SCALES,
                                help="log-odds explains the margin, where a linear model's attributions are exact")
        submitted = st.form_submit_button("Explain why they differ", type="primary")
    if submitted:
        settings = ExplainSettings(disagreements=int(disagreements), others=int(others), background=int(background),
                                   time_limit_s=float(limit), scale=scale)
        with st.spinner("Starting the run's own two model servers, where they are not running…"):
            box.serve_run(run_id)
        box.start_explanation(box.check_explanation(run_id, settings))
        st.rerun()


def _progress(box: Sandbox) -> None:
    handle = box.explaining

    @st.fragment(run_every=1.0)
    def panel() -> None:
        if handle is None or handle.done:
            st.rerun()
            return
        done, total = handle.progress
        st.progress(done / total if total else 0.0, text=f"Explaining both models: {done:,} of {total:,} requests")
        if st.button("Cancel the explanation"):
            handle.cancel()

    panel()


def _show(explanation: Explanation) -> None:
    names = explanation.output_names
    output = 0
    if len(names) > 1:
        output = names.index(st.selectbox("Explain the score of", names))
    comparison = explanation.comparison(output)
    if comparison is None:
        return
    if explanation.status != "finished":
        st.warning(escaped(explanation.reason))
    st.write(escaped(explanation.headline(output)))
    if explanation.comparable:
        st.caption(escaped(explanation.comparable))
    st.altair_chart(charts.attribution_bars(comparison.table), width="stretch")
    shown = comparison.table[["feature", "champion_mean_abs", "champion_low", "champion_high", "challenger_mean_abs",
                              "challenger_low", "challenger_high", "champion_share", "challenger_share", "share_shift",
                              "shift_low", "shift_high", "champion_rank", "challenger_rank"]]
    st.dataframe(readable(shown), hide_index=True)
    st.caption(escaped(f"Mean |attribution| of {comparison.output} per feature with 95% bootstrap intervals, and each "
                       f"feature's share of the model's explanation; share_shift is the challenger's share minus the "
                       f"champion's. {explanation.sample} Background: {explanation.background}. "
                       f"Extra requests per explained row: champion "
                       f"{explanation.extra_requests_per_row('champion'):.1f}, challenger "
                       f"{explanation.extra_requests_per_row('challenger'):.1f}. Method: {explanation.method}."))
    disagreements = explanation.disagreement_ids()
    if not disagreements:
        st.caption("The models agreed on every explained request, so there is no disagreement to explain.")
        return
    answers = {request_id: explanation.answers(request_id) for request_id in disagreements[:500]}
    chosen = st.selectbox("A disagreement to explain", list(answers),
                          format_func=lambda i: f"{i}: champion {answers[i].get('champion', '?')}, challenger "
                                                f"{answers[i].get('challenger', '?')}")
    st.write(escaped(explanation.row_sentence(chosen)))
    st.altair_chart(charts.row_attribution_bars(explanation.row(chosen)), width="stretch")
    explained = ("score of its own answer's class" if len(names) > 1 else comparison.output)
    st.caption(escaped(f"Request {chosen}: what pushed each model's {explained} up (right) or down (left), from the "
                       "background's average answer to its own; the strongest reasons toward its answer come first."))
