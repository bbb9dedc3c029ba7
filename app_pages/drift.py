"""Drift: does the replayed traffic still look like the data the models were trained on?"""

import streamlit as st

from staging import ui

ui.page_header("Drift", "Each feature of the replayed traffic against the training data (Evidently's default tests).")

with ui.guard():
    box = ui.sandbox()
    _, run_id, result = ui.run_evidence(box)
    if result:
        if result.drift is None:
            st.info("This run names no training reference, so drift was not measured.")
        else:
            choices = ui.drift_choices(result.drift)
            drift = box.drift_table(run_id, choices) if choices else result.drift
            drifted = drift.loc[drift["drifted"], "feature"].tolist()
            a, b = st.columns(2)
            a.metric("Features drifted", f"{len(drifted)} of {len(drift)}")
            b.metric("Dataset drift", "yes" if ui.dataset_drift(drift) else "no", help="At least half of the features.")
            st.altair_chart(ui.charts.drift_bars(drift), width="stretch")
            if result.drift_timeline is not None and result.drift_timeline["window"].nunique() > 1:
                st.altair_chart(ui.charts.drift_heatmap(result.drift_timeline), width="stretch")
                st.caption("Each window of the replayed traffic against the training data: a dot marks drift, and "
                           "the first dotted column is when it started. A window holds few requests, so each cell "
                           "uses a p-value test (KS, chi-squared or Z), adjusted for the many cells "
                           "(Benjamini-Hochberg). The colour is the evidence: 0.05 divided by the adjusted p, so 1 is "
                           "the edge of significance and darker is stronger.")
            st.write(ui.escaped(ui.drift_sentence(drift)))
            st.caption("Each bar is a feature's drift score on one scale: a distance (Wasserstein, Jensen-Shannon) "
                       "divided by its threshold, or for a p-value test (KS, chi-squared, Z) the threshold divided by "
                       "the p-value. Past the dashed line at 1, the test's own rule calls it drift; the colour is the "
                       "sandbox's verdict, which also asks for a correction for many tests and a real effect.")
            st.info(ui.escaped(ui.verdicts_differ(drift)))
            st.dataframe(ui.readable(drift[ui.DRIFT_COLUMNS]), hide_index=True,
                         column_config={"why they differ": st.column_config.TextColumn(width="large")})
            st.caption("\"Evidently's rule: drifted\" is Evidently's verdict on its own rule, \"drifted (sandbox)\" "
                       "the sandbox's. They "
                       "differ only where a p-value test is not significant once corrected for the number of tests "
                       "(the adjusted p), or its effect is too small to matter at this many rows, or a distance on "
                       "few rows is within what random splits of the training data and the traffic pooled show (the "
                       "noise column).")
            ui.drifted_distributions(box, run_id, drift)
        if result.prediction_drift is not None:
            st.subheader("Prediction drift")
            st.altair_chart(ui.charts.score_distributions(result.score_histograms, ui.charts.score_axis_title(
                result.task, result.manifest.target, result.positive_class)))
            st.dataframe(ui.readable(result.prediction_drift), hide_index=True)
            st.caption("Each model's answers on a sample of its training data against its answers on the replayed "
                       "traffic: a model whose scores move is seeing a different world, even before labels arrive.")
