"""Compare: champion and challenger side by side on the same recorded requests."""

import streamlit as st

from staging import ui

ui.page_header("Compare", "Champion and challenger side by side on the recorded requests: in shadow mode each request "
                          "answered by both, in canary and A/B mode each by one.")

with ui.guard():
    box = ui.sandbox()
    _, _, result = ui.run_evidence(box)
    if result:
        manifest = result.manifest
        a, b, c = st.columns(3)
        if manifest.mode == "shadow":
            a.metric("Agreement", ui.percent(result.agreement.rate), help=result.agreement.rule)
            b.metric("Requests compared", f"{result.agreement.compared:,}")
        else:  # no request met both models: no agreement to show, only how the traffic was split
            answered = result.latency["requests"]
            a.metric("Requests to the champion", f"{int(answered.get('champion', 0)):,}")
            b.metric("Requests to the challenger", f"{int(answered.get('challenger', 0)):,}")
        c.metric("With a label so far", f"{result.labelled:,}")
        st.write(ui.escaped(result.agreement_sentence()))
        st.caption(ui.escaped(result.task_sentence()))
        if result.agreement.compared:
            left, right = st.columns(2)
            if result.flips is not None and not result.flips.empty and len(result.flips) <= 20:
                left.altair_chart(ui.charts.flip_heatmap(result.flips))
                left.caption(ui.escaped(result.flip_sentence()))
            if result.prediction_sample is not None and not result.prediction_sample.empty:
                left.altair_chart(ui.charts.prediction_scatter(result.prediction_sample), width="stretch")
                left.caption("Each request's challenger prediction against the champion's (a sample of up to 2,000); "
                             "on the dashed line they agree.")
            if result.score_gaps is not None and not result.score_gaps.empty:
                regression = result.task == "regression"
                right.altair_chart(ui.charts.delta_histogram(
                    result.score_gaps, "challenger − champion prediction" if regression else
                    "challenger score − champion score"), width="stretch")
                if regression:
                    right.caption("How far apart the two models' predictions are, request by request; a narrow peak "
                                  "at 0 means they mostly agree.")
                else:
                    right.caption("How far apart the two models' scores are, request by request; a narrow peak at 0 "
                                  "means they mostly agree on how sure to be.")

        st.subheader("Quality against labels that arrived later")
        if result.quality is None or not result.labelled:
            st.info("No labels for this run yet, so quality against labels cannot be judged (its estimate is below). "
                    "Attach labels that arrived later here, or with `python -m staging labels FILE --run RUN_ID`.")
        else:
            metrics = [m for m in ui.quality_metrics(result.task, len(result.classes)) if m in result.quality.columns]
            table = result.quality.rename(index={r: f"{r} v{manifest.version(r)}" for r in manifest.models})
            st.dataframe(ui.readable(table[["labelled", *metrics]]), hide_index=True)
            st.caption(ui.escaped(ui.metric_names_sentence(result.task, result.classes, result.positive_class)
                                  + (f" ROC AUC and log loss: {result.scores_note}." if result.scores_note else "")))
            charted = [m for m in metrics if m in ("accuracy", "f1", "f1_macro", "roc_auc", "log_loss", "mae", "rmse",
                                                   "r2")]
            st.altair_chart(ui.charts.metric_bars(result.quality, charted))
            st.caption(ui.escaped(f"Measured on the {result.labelled:,} replayed requests whose true outcome is known. "
                       + ("Lower is better, except R²." if result.task == "regression" else
                          "Higher is better, except log loss, which has its own panel.")))
            if result.quality_sentence():
                st.write(ui.escaped(result.quality_sentence()))
            if result.per_class is not None and not result.per_class.empty:
                st.dataframe(ui.readable(result.per_class.sort_values("support", ascending=False).head(50)), hide_index=True)
                st.caption(ui.escaped("Per class: how many labelled requests hold it (support) and each model's "
                                      "precision, recall and F1 on it." + (" The 50 classes with the most requests "
                                                                           "first." if len(result.per_class) > 50
                                                                           else "")))
            if result.confusion and len(result.classes) <= 20:
                left, right = st.columns(2)
                for column, (role, matrix) in zip((left, right), result.confusion.items()):
                    column.altair_chart(ui.charts.confusion_heatmap(matrix, f"{role} v{manifest.version(role)}"))
                st.caption("Each model's confusion matrix on the same labelled requests: true class down, answered "
                           "class across; the diagonal is right.")
            if result.residuals is not None and not result.residuals.empty:
                st.altair_chart(ui.charts.residual_bars(result.residuals), width="stretch")
                st.caption("Each model's residuals (prediction minus the true value) on the same labelled requests: "
                           "the narrower and the more centred on 0, the better.")
            if result.differences is not None:
                st.dataframe(ui.readable(result.differences), hide_index=True)
                st.caption(ui.escaped("Challenger minus champion for every metric, with a 95% interval (each row names its "
                           "method): an interval that straddles 0 is no evidence of a difference. For log loss, "
                           "MAE and RMSE, lower is better."
                           + (f" Wilcoxon signed-rank test on the paired absolute errors: p = "
                              f"{ui.number(result.wilcoxon_p)}." if result.wilcoxon_p is not None else "")))
            if len(result.weekly) > 1:
                metric = "mae" if result.task == "regression" else "accuracy"
                columns = [c for c in result.weekly.columns if c.endswith(metric)] + ["agreement"]
                st.altair_chart(ui.charts.weekly_lines(result.weekly, columns,
                                                       f"share of requests ({metric} and agreement)"), width="stretch")
                st.caption("Week by week: each model's accuracy on the labelled requests of the week, and how often "
                           "the two agree. A model whose line falls is meeting a world it was not trained on.")

        ui.late_labels_form(box, manifest.run_id)
        ui.estimated_quality_section(result)

        if result.segments is not None and not result.segments.empty:
            st.subheader("By segment: where the challenger does worse")
            st.write(ui.escaped(result.segment_sentence()))
            shown = result.segments.head(12)[["slice", "requests", "metric", "champion", "challenger", "difference",
                                              "q_value", "challenger_worse"]]
            st.dataframe(ui.readable(shown), hide_index=True)
            st.caption("Each value of a categorical feature and each quarter of a numeric one, the challenger's worst "
                       "first. The adjusted p (q) corrects the p-value for testing many slices (Benjamini-Hochberg); "
                       "under 0.05, the difference is unlikely to be chance.")

        st.subheader("Latency and errors")
        st.dataframe(ui.readable(result.latency, "model"), hide_index=True)
        if result.latency_bins is not None and not result.latency_bins.empty:
            left, right = st.columns(2)
            left.altair_chart(ui.charts.latency_histogram(result.latency_bins), width="stretch")
            right.altair_chart(ui.charts.interval_points(result.latency_intervals), width="stretch")
            st.caption(ui.escaped(result.latency_sentence() + " On the right, each percentile with its 95% "
                       "bootstrap interval (the maximum has none: no sample can say more than its largest value)."))
            st.altair_chart(ui.charts.latency_lines(result.latency_timeline), width="stretch")
            ratio = result.latency_ratio
            if ratio and ratio.get("requests"):
                st.caption(ui.escaped(f"Over the replay. Request by request, the challenger took "
                           f"{ui.number(ratio['median'], 2)}x "
                           f"the champion's time (half of the requests between {ui.number(ratio['q1'], 2)}x and "
                           f"{ui.number(ratio['q3'], 2)}x)."))
        else:
            st.write(ui.escaped(result.latency_sentence()))
        if result.errors is not None and not result.errors.empty:
            st.dataframe(ui.readable(result.errors), hide_index=True)
            shared = result.error_pairs
            if shared and shared["both"]:
                st.caption(ui.escaped(f"Failed answers by kind, with the server's own message. {shared['both']:,} "
                                      f"requests failed on both models (shared: the request, not a model), "
                                      f"{shared['challenger_only']:,} on the challenger alone and "
                                      f"{shared['champion_only']:,} on the champion alone; the gate judges the "
                                      "difference."))
            else:
                st.caption("Failed answers by kind, with the server's own message.")

        if result.resources is not None:
            st.altair_chart(ui.charts.resource_lines(result.resources), width="stretch")
            st.caption("Each model server's CPU (in cores) and memory, second by second over the replay, recorded "
                       "with the run.")
        elif result.resources_note:
            st.caption(ui.escaped(f"CPU and memory over the replay: {result.resources_note}."))

        if result.noise_floor_sentence():
            st.info(ui.escaped(result.noise_floor_sentence()))

        if not result.disagreements.empty:
            st.subheader("Where they disagree")
            st.caption("The requests with the largest gap between the two models' scores, with their features, and "
                       "the true outcome where it is known.")
            st.dataframe(ui.readable(result.disagreements.head(100)), hide_index=True)

        ui.why_they_differ(box, result)
        ui.versions_side_by_side(box, manifest)
