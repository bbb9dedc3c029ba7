"""Altair charts for the pages and the offline report, always drawn from small aggregated frames
(never raw rows)."""

from __future__ import annotations

import altair as alt
import pandas as pd

MODEL_COLORS = alt.Scale(domain=["champion", "challenger"], range=["#4c78a8", "#f58518"])


def metric_bars(quality: pd.DataFrame, metrics: list[str]) -> alt.Chart:
    long = quality.reset_index().melt(id_vars="model", value_vars=metrics, var_name="metric", value_name="value")
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("model:N", title=None, axis=None, sort=["champion", "challenger"]),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("model:N", scale=MODEL_COLORS, title="model"),
        column=alt.Column("metric:N", title=None),
        tooltip=["model", "metric", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=90, height=180)


def latency_histogram(hist: pd.DataFrame) -> alt.Chart:
    return alt.Chart(hist).mark_area(opacity=0.5, interpolate="step-after").encode(
        x=alt.X("bin_start_ms:Q", title="latency (ms)"),
        y=alt.Y("requests:Q", title="requests", stack=None),
        color=alt.Color("model:N", scale=MODEL_COLORS),
        tooltip=["model", alt.Tooltip("bin_start_ms:Q", format=".1f"), "requests"],
    ).properties(height=220)


def drift_bars(drift: pd.DataFrame) -> alt.Chart:
    frame = drift.assign(verdict=drift["drifted"].map({True: "drifted", False: "stable"}))
    bars = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("feature:N", sort="-x", title=None),
        x=alt.X("score:Q", title="drift score (distance; for p-value tests, the p-value)"),
        color=alt.Color("verdict:N", scale=alt.Scale(domain=["drifted", "stable"], range=["#e45756", "#9ecae9"])),
        tooltip=["feature", "test", alt.Tooltip("score:Q", format=".4f"), "threshold", "reference", "current"],
    )
    ticks = alt.Chart(frame).mark_tick(color="black", thickness=2, size=18).encode(
        y=alt.Y("feature:N", sort="-x"), x="threshold:Q")
    return (bars + ticks).properties(height=28 * len(frame) + 20)


def weekly_lines(weekly: pd.DataFrame, value_columns: list[str], title: str) -> alt.Chart:
    long = weekly.melt(id_vars="week", value_vars=value_columns, var_name="series", value_name="value").dropna()
    long["series"] = long["series"].str.replace("_", " ")
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("week:T", title="week of the recorded traffic", axis=alt.Axis(format="%b %d", tickCount="week")),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None),
        tooltip=[alt.Tooltip("week:T"), "series", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=220)


def flip_heatmap(matrix: pd.DataFrame) -> alt.Chart:
    long = matrix.reset_index().melt(id_vars="champion", var_name="challenger", value_name="requests")
    base = alt.Chart(long).encode(x=alt.X("challenger:N", title="challenger's class"),
                                  y=alt.Y("champion:N", title="champion's class"))
    cells = base.mark_rect().encode(color=alt.Color("requests:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=["champion", "challenger", "requests"])
    return (cells + base.mark_text(fontSize=16).encode(text="requests:Q")).properties(width=260, height=200)


def delta_histogram(deltas: pd.DataFrame, title: str) -> alt.Chart:
    return alt.Chart(deltas).mark_bar(color="#f58518").encode(
        x=alt.X("bin_start:Q", title=title, bin="binned"), x2="bin_end:Q",
        y=alt.Y("requests:Q", title="requests"), tooltip=["bin_start", "bin_end", "requests"],
    ).properties(height=200)


def interval_points(intervals: pd.DataFrame) -> alt.Chart:
    base = alt.Chart(intervals).encode(y=alt.Y("percentile:N", sort=["p50_ms", "p90_ms", "p95_ms", "p99_ms"]),
                                       yOffset="model:N", color=alt.Color("model:N", scale=MODEL_COLORS))
    rules = base.mark_rule(strokeWidth=3).encode(x=alt.X("low:Q", title="latency (ms), 95% interval"), x2="high:Q")
    return (rules + base.mark_point(filled=True, size=60).encode(
        x="estimate:Q", tooltip=["model", "percentile", alt.Tooltip("estimate:Q", format=".1f"),
                                 alt.Tooltip("low:Q", format=".1f"), alt.Tooltip("high:Q", format=".1f")])
            ).properties(height=220)


def drift_heatmap(timeline: pd.DataFrame) -> alt.Chart:
    """Feature against time window, coloured by drift strength (1 = the test's threshold)."""
    base = alt.Chart(timeline).encode(
        x=alt.X("window:O", title="window of the recorded traffic", timeUnit="yearmonthdate",
                axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("feature:N", title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("strength:Q", title="0.05 ÷ adjusted p",
                        scale=alt.Scale(domain=[0, 1, 5], range=["#f7fbff", "#fdd0a2", "#d94801"])),
        tooltip=[alt.Tooltip("window:T"), "feature", "test", alt.Tooltip("score:Q", format=".3g", title="p-value"),
                 alt.Tooltip("q_value:Q", format=".3g"), "drifted", "rows"])
    marks = base.mark_text(text="●", color="black").transform_filter("datum.drifted")
    return (cells + marks).properties(height=24 * timeline["feature"].nunique() + 30)


def latency_lines(timeline: pd.DataFrame) -> alt.Chart:
    return alt.Chart(timeline).mark_line().encode(
        x=alt.X("second:Q", title="seconds into the replay"), y=alt.Y("p95_ms:Q", title="p95 latency (ms)"),
        color=alt.Color("model:N", scale=MODEL_COLORS),
        tooltip=["model", alt.Tooltip("second:Q", format=".0f"), alt.Tooltip("p50_ms:Q", format=".1f"),
                 alt.Tooltip("p95_ms:Q", format=".1f")],
    ).properties(height=200)


def score_distributions(histograms: pd.DataFrame) -> alt.Chart:
    return alt.Chart(histograms).mark_line(interpolate="step-after").encode(
        x=alt.X("bin_start:Q", title="score (positive-class probability, or predicted value)"),
        y=alt.Y("share:Q", title="share of answers", axis=alt.Axis(format="%")),
        color=alt.Color("source:N", title=None, scale=alt.Scale(domain=["training reference", "replayed traffic"],
                                                                 range=["#7f7f7f", "#e45756"])),
        column=alt.Column("model:N", title=None, sort=["champion", "challenger"]),
        tooltip=["model", "source", alt.Tooltip("bin_start:Q", format=".3f"), alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=300, height=180)
