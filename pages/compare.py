"""Compare: champion and challenger side by side on the same recorded requests."""

import streamlit as st

from staging import ui

ui.page_header("Compare", "The same recorded requests, answered by both models.")

with ui.guard():
    box = ui.sandbox()
    _, _, result = ui.run_evidence(box)
    if result:
        manifest = result.manifest
        a, b, c = st.columns(3)
        a.metric("Agreement", ui.percent(result.agreement.rate), help=result.agreement.rule)
        b.metric("Requests compared", f"{result.agreement.compared:,}")
        c.metric("With a label so far", f"{result.labelled:,}")
        st.write(result.agreement_sentence())
        left, right = st.columns(2)
        if result.flips is not None:
            left.altair_chart(ui.charts.flip_heatmap(result.flips))
            left.caption(result.flip_sentence())
        right.altair_chart(ui.charts.delta_histogram(result.score_gaps, "challenger score − champion score"),
                           width="stretch")
        right.caption("How far apart the two models' scores are, request by request; a narrow peak at 0 means "
                      "they mostly agree on how sure to be.")

        st.subheader("Quality against labels that arrived later")
        if result.quality is None:
            st.info("No labels for this run yet, so quality cannot be judged. Upload them on the Replay page.")
        else:
            metrics = ui.quality_metrics(result.task)
            table = result.quality.rename(index={r: f"{r} v{manifest.version(r)}" for r in manifest.models})
            st.dataframe(table.style.format("{:.3f}", subset=metrics))
            st.altair_chart(ui.charts.metric_bars(result.quality, metrics))
            st.caption(f"Measured on the {result.labelled:,} replayed requests whose true outcome is known. "
                       + ("Lower is better, except R²." if result.task == "regression" else
                          "Higher is better, except log loss."))
            if result.quality_sentence():
                st.write(result.quality_sentence())
            if result.differences is not None:
                st.dataframe(result.differences.style.format("{:+.4f}", subset=["difference", "low", "high"])
                             .format("{:.4f}", subset=["champion", "challenger"]), hide_index=True)
                st.caption("Challenger minus champion for every metric, with the 2.5th and 97.5th percentiles of a "
                           "paired bootstrap (the same resampled requests for both): an interval that straddles 0 "
                           "is no evidence of a difference. For log loss, MAE and RMSE, lower is better."
                           + (f" Wilcoxon signed-rank test on the paired absolute errors: p = {result.wilcoxon_p:.3g}."
                              if result.wilcoxon_p is not None else ""))
            if len(result.weekly) > 1:
                metric = "mae" if result.task == "regression" else "accuracy"
                columns = [c for c in result.weekly.columns if c.endswith(metric)] + ["agreement"]
                st.altair_chart(ui.charts.weekly_lines(result.weekly, columns, "share / error"),
                                width="stretch")
                st.caption("Week by week: a model whose line falls is meeting a world it was not trained on.")

        if result.segments is not None and not result.segments.empty:
            st.subheader("By segment: where the challenger does worse")
            st.write(result.segment_sentence())
            shown = result.segments.head(12)[["slice", "requests", "metric", "champion", "challenger", "difference",
                                              "q_value", "challenger_worse"]]
            st.dataframe(shown.style.format({"champion": "{:.3f}", "challenger": "{:.3f}", "difference": "{:+.3f}",
                                             "q_value": "{:.3g}"}), hide_index=True)
            st.caption("Each value of a categorical feature and each quarter of a numeric one, the challenger's worst "
                       "first. q is the p-value adjusted for testing many slices (Benjamini-Hochberg).")

        st.subheader("Latency and errors")
        st.dataframe(result.latency.style.format(ui.LATENCY_FORMAT))
        left, right = st.columns(2)
        left.altair_chart(ui.charts.latency_histogram(result.latency_bins), width="stretch")
        right.altair_chart(ui.charts.interval_points(result.latency_intervals), width="stretch")
        st.caption(result.latency_sentence() + " Bars on the right are 95% bootstrap intervals of each percentile.")
        st.altair_chart(ui.charts.latency_lines(result.latency_timeline), width="stretch")
        ratio = result.latency_ratio
        st.caption(f"Over the replay. Request by request, the challenger took {ratio['median']:.2f}x the champion's "
                   f"time (half of the requests between {ratio['q1']:.2f}x and {ratio['q3']:.2f}x).")
        if not result.errors.empty:
            st.dataframe(result.errors, hide_index=True)

        if result.noise_floor_sentence():
            st.info(result.noise_floor_sentence())

        st.subheader("Where they disagree")
        st.caption("The requests with the largest gap between the two models' scores, with their features.")
        st.dataframe(result.disagreements.head(100), hide_index=True)
