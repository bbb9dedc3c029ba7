"""Altair charts for the pages and the offline report, always drawn from small aggregated frames
(never raw rows). Every chart keeps these conventions, and the next one should too:

- **One colour per role, everywhere**: champion blue, challenger orange, the champion's replica
  grey (`ROLE_SCALE`). Drift verdicts: drifted red, stable grey-blue (`VERDICT_SCALE`).
- **Axis titles say what is plotted, with the unit**; a legend's title says what its colours are.
- **Labels are never cut** (`labelLimit=0`); long feature names get the room they need.
- **Lower-is-better metrics (log loss, MAE, RMSE) get their own panel**, never an axis shared
  with higher-is-better ones.
- **Histograms cover the whole range** of what they count (the last bin holds the maximum).
- **No interval is drawn for a maximum** (a bootstrap cannot say more than the largest value seen),
  and a small-sample interval shows its count in the tooltip.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..analytics.drift import drift_strength

ROLE_ORDER = ["champion", "challenger", "champion_replica"]
ROLE_COLOURS = {"champion": "#4c78a8", "challenger": "#f58518", "champion_replica": "#9d9d9d"}
ROLE_SCALE = alt.Scale(domain=ROLE_ORDER, range=[ROLE_COLOURS[role] for role in ROLE_ORDER])
VERDICT_SCALE = alt.Scale(domain=["drifted", "stable"], range=["#e45756", "#9ecae9"])
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}
NO_CUT = alt.Axis(labelLimit=0, labelOverlap=False)  # every label shown, none cut or dropped


def role_color(frame: pd.DataFrame | None = None, title: str = "model") -> alt.Color:
    """The role colours, with only the roles `frame` holds in the legend (no replica listed when
    none ran); the colours stay the same whatever is present."""
    present = set(frame["model"].astype(str)) if frame is not None and "model" in frame else set(ROLE_ORDER)
    roles = [role for role in ROLE_ORDER if role in present] or ROLE_ORDER
    return alt.Color("model:N", scale=alt.Scale(domain=roles, range=[ROLE_COLOURS[r] for r in roles]), title=title,
                     sort=roles)


def metric_bars(quality: pd.DataFrame, metrics: list[str]) -> alt.Chart | alt.HConcatChart:
    """Each metric's value per model; higher-is-better and lower-is-better metrics on their own panels."""
    long = quality.reset_index().melt(id_vars="model", value_vars=metrics, var_name="metric", value_name="value")
    long = long.dropna(subset=["value"])

    def panel(frame: pd.DataFrame, title: str) -> alt.Chart:
        return alt.Chart(frame).mark_bar().encode(
            x=alt.X("model:N", title=None, axis=None, sort=ROLE_ORDER),
            y=alt.Y("value:Q", title=title),
            color=role_color(frame),
            column=alt.Column("metric:N", title=None, header=alt.Header(labelLimit=0)),
            tooltip=["model", "metric", alt.Tooltip("value:Q", format=".3f")],
        ).properties(width=90, height=180)

    higher = long[~long["metric"].isin(LOWER_IS_BETTER)]
    lower = long[long["metric"].isin(LOWER_IS_BETTER)]
    panels = [panel(part, title) for part, title in ((higher, "value (higher is better)"),
                                                     (lower, "value (lower is better)")) if not part.empty]
    return panels[0] if len(panels) == 1 else alt.hconcat(*panels)


def latency_histogram(hist: pd.DataFrame) -> alt.Chart:
    """Each model's share of its own answers per latency bin (the bins reach the slowest answer):
    shares, not counts, so a canary's few challenger answers are as visible as the champion's many."""
    frame = hist.assign(share=hist["requests"] / hist.groupby("model")["requests"].transform("sum").clip(lower=1))
    return alt.Chart(frame).mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=alt.X("bin_start_ms:Q", title="latency of a successful answer (ms)"),
        y=alt.Y("share:Q", title="share of the model's answers", axis=alt.Axis(format="%")),
        color=role_color(frame),
        tooltip=["model", alt.Tooltip("bin_start_ms:Q", format=".1f", title="from (ms)"),
                 alt.Tooltip("bin_end_ms:Q", format=".1f", title="to (ms)"), alt.Tooltip("requests:Q", title="answers"),
                 alt.Tooltip("share:Q", format=".1%", title="share")],
    ).properties(height=220)


def drift_bars(drift: pd.DataFrame) -> alt.LayerChart:
    """Each feature's drift on one scale (1 = its test's threshold, above 1 = drifted by the test's
    own rule), coloured by the sandbox's verdict, so bar length and colour can be read together."""
    frame = drift.assign(verdict=drift["drifted"].map({True: "drifted", False: "stable"}))
    frame = frame.assign(strength=[drift_strength(t, s, th) for t, s, th in zip(frame["test"], frame["score"],
                                                                          frame["threshold"])])
    cut = " (bars beyond 5 stop at 5)" if (frame["strength"] > 5).any() else ""
    bars = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("feature:N", sort="-x", title=None, axis=NO_CUT),
        x=alt.X("strength:Q", title=f"drift score ÷ the test's threshold (p-value tests: threshold ÷ p){cut}",
                scale=alt.Scale(domainMax=5, clamp=True), axis=alt.Axis(titleLimit=0)),
        color=alt.Color("verdict:N", scale=VERDICT_SCALE, title="the sandbox's verdict"),
        tooltip=["feature", "test", alt.Tooltip("score:Q", format=".4f"), "threshold", "reference", "current"],
    )
    ticks = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color="black", strokeDash=[4, 3]).encode(x="x:Q")
    return (bars + ticks).properties(height=28 * len(frame) + 20)


def week_ticks(weeks: pd.Series) -> list[alt.DateTime]:
    """One axis tick per week the data holds (Vega's own week ticks fall on Sundays and can skip
    the first week, which starts on a Monday)."""
    return [alt.DateTime(year=w.year, month=w.month, date=w.day) for w in sorted(pd.to_datetime(weeks).unique())]


def weekly_lines(weekly: pd.DataFrame, value_columns: list[str], title: str) -> alt.Chart:
    long = weekly.melt(id_vars="week", value_vars=value_columns, var_name="series", value_name="value").dropna()
    long["series"] = long["series"].str.replace("_", " ")
    series = list(dict.fromkeys(long["series"]))
    # each model's line in its role's colour; anything else (agreement) in green
    palette = [next((ROLE_COLOURS[role] for role in ROLE_ORDER if name.startswith(role.replace("_", " ") + " ")),
                    "#54a24b") for name in series]
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("week:T", title="week of the recorded traffic",  # a tick on each week of the data, the first too
                axis=alt.Axis(format="%b %d", values=week_ticks(long["week"]), labelLimit=0)),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False), axis=alt.Axis(titleLimit=0, tickCount=5)),
        color=alt.Color("series:N", title="what each line is", scale=alt.Scale(domain=series, range=palette),
                        legend=alt.Legend(labelLimit=0)),
        tooltip=[alt.Tooltip("week:T"), "series", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=220)


def flip_heatmap(matrix: pd.DataFrame) -> alt.LayerChart:
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


def interval_points(intervals: pd.DataFrame) -> alt.LayerChart:
    """Percentiles with their 95% intervals; the maximum as a point alone (no interval can be
    drawn for it); the number of answers in every tooltip."""
    frame = intervals.copy()
    frame["percentile"] = frame["percentile"].str.replace("_ms", "")
    if "answers" not in frame.columns:
        frame["answers"] = pd.NA
    base = alt.Chart(frame).encode(y=alt.Y("percentile:N", sort=["p50", "p90", "p95", "p99", "max"],
                                           title="percentile of latency"),
                                   yOffset=alt.YOffset("model:N", sort=ROLE_ORDER), color=role_color(frame))
    tooltip = ["model", "percentile", alt.Tooltip("estimate:Q", format=".1f", title="ms"),
               alt.Tooltip("low:Q", format=".1f", title="95% low (ms)"),
               alt.Tooltip("high:Q", format=".1f", title="95% high (ms)"), alt.Tooltip("answers:Q", title="answers")]
    rules = base.mark_rule(strokeWidth=3).transform_filter("datum.percentile != 'max'").encode(
        x=alt.X("low:Q", title="latency (ms): a dot, and its 95% interval"), x2="high:Q")
    return (rules + base.mark_point(filled=True, size=60).encode(x="estimate:Q", tooltip=tooltip)).properties(height=220)


def drift_heatmap(timeline: pd.DataFrame) -> alt.LayerChart:
    """Feature against time window, coloured by drift strength (1 = the test's threshold)."""
    base = alt.Chart(timeline).encode(
        x=alt.X("window:O", title="window of the recorded traffic", timeUnit="yearmonthdate",
                axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("feature:N", title=None, axis=NO_CUT))
    cells = base.mark_rect().encode(
        color=alt.Color("strength:Q", title="evidence of drift (1 = significant)",
                        scale=alt.Scale(domain=[0, 1, 5], range=["#f7fbff", "#fdd0a2", "#d94801"])),
        tooltip=[alt.Tooltip("window:T"), "feature", "test", alt.Tooltip("score:Q", format=".3g", title="p-value"),
                 alt.Tooltip("q_value:Q", format=".3g", title="adjusted p"), "drifted", "rows"])
    marks = base.mark_text(text="●", color="black").transform_filter("datum.drifted")
    return (cells + marks).properties(height=24 * timeline["feature"].nunique() + 30)


def latency_lines(timeline: pd.DataFrame) -> alt.Chart:
    return alt.Chart(timeline).mark_line().encode(
        x=alt.X("second:Q", title="seconds into the replay"), y=alt.Y("p95_ms:Q", title="p95 latency (ms)"),
        color=role_color(timeline),
        tooltip=["model", alt.Tooltip("second:Q", format=".0f"), alt.Tooltip("p50_ms:Q", format=".1f"),
                 alt.Tooltip("p95_ms:Q", format=".1f")],
    ).properties(height=200)


def score_axis_title(task: str, target: str | None, positive_class: str | None) -> str:
    """What a prediction-drift chart's x axis holds, with its unit: a regression's predicted
    value is in its target's own unit; a classifier's score is a probability."""
    if task == "regression":
        return f"predicted {target or 'value'} (in the target's own unit)"
    return f"score: probability of class {positive_class}" if positive_class else "score (probability, 0 to 1)"


def score_distributions(histograms: pd.DataFrame, axis_title: str = "score (probability, 0 to 1)") -> alt.Chart:
    return alt.Chart(histograms).mark_line(interpolate="step-after").encode(
        x=alt.X("bin_start:Q", title=axis_title, axis=alt.Axis(titleLimit=0)),
        y=alt.Y("share:Q", title="share of answers", axis=alt.Axis(format="%")),
        color=alt.Color("source:N", title="answers on", scale=SOURCE_SCALE),
        column=alt.Column("model:N", title=None, sort=ROLE_ORDER),
        tooltip=["model", "source", alt.Tooltip("bin_start:Q", format=".3f"), alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=300, height=180)


def estimate_lines(by_week: pd.DataFrame, metric: str) -> alt.LayerChart:
    """Per week and model: the estimate on every request (solid line), the value the labels gave
    (dashed, with points) and the estimate's band on the labelled requests (shaded)."""
    frame = by_week.copy()
    frame["week"] = pd.to_datetime(frame["window"].str.replace("week of ", "", regex=False), errors="coerce")
    frame = frame.dropna(subset=["week"])
    long = pd.concat([frame.assign(kind="estimated, all requests", value=frame["estimated"]),
                      frame.assign(kind="realised, labelled requests", value=frame["realised"])]).dropna(subset=["value"])
    x = alt.X("week:T", title="week of the recorded traffic", axis=alt.Axis(format="%b %d", tickCount="week"))
    band = alt.Chart(frame).mark_area(opacity=0.15).encode(
        x=x, y=alt.Y("band_low:Q", title=f"{metric} (estimated and realised)", scale=alt.Scale(zero=False)),
        y2="band_high:Q", color=role_color(frame))
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", scale=alt.Scale(zero=False)), color=role_color(long),
        # the legend draws each kind as its own stroke (solid, dashed), not as the points both lines carry
        strokeDash=alt.StrokeDash("kind:N", title="line", scale=alt.Scale(
            domain=["estimated, all requests", "realised, labelled requests"], range=[[1, 0], [6, 4]]),
            legend=alt.Legend(labelLimit=0, symbolType="stroke", symbolStrokeWidth=2, symbolSize=400)),
        tooltip=["model", "kind", alt.Tooltip("week:T"), alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("labelled:Q", title="labelled requests")])
    return (band + lines).properties(height=240)


def confusion_heatmap(matrix: pd.DataFrame, title: str) -> alt.LayerChart:
    """True class (rows) against answered class (columns), counts in the cells."""
    long = matrix.rename_axis(index="true", columns="answered").reset_index().melt(
        id_vars="true", var_name="answered", value_name="requests")
    base = alt.Chart(long, title=title).encode(x=alt.X("answered:N", title="answered class"),
                                               y=alt.Y("true:N", title="true class"))
    cells = base.mark_rect().encode(color=alt.Color("requests:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                    tooltip=["true", "answered", "requests"])
    return (cells + base.mark_text(fontSize=13).encode(text="requests:Q")).properties(width=240, height=200)


def prediction_scatter(sample: pd.DataFrame) -> alt.LayerChart:
    """Each request's challenger prediction against the champion's, with the line where they agree."""
    low = float(np.nanmin(sample[["champion", "challenger"]].to_numpy()))
    high = float(np.nanmax(sample[["champion", "challenger"]].to_numpy()))
    points = alt.Chart(sample).mark_circle(size=14, opacity=0.5).encode(
        x=alt.X("champion:Q", title="champion's prediction", scale=alt.Scale(zero=False)),
        y=alt.Y("challenger:Q", title="challenger's prediction", scale=alt.Scale(zero=False)),
        tooltip=["champion", "challenger", "truth"])
    line = alt.Chart(pd.DataFrame({"x": [low, high], "y": [low, high]})).mark_line(color="grey", strokeDash=[4, 4]
                                                                                      ).encode(x="x:Q", y="y:Q")
    return (points + line).properties(height=260)


def residual_bars(residuals: pd.DataFrame) -> alt.Chart:
    """Each model's residuals (prediction minus truth) on the same bins."""
    return alt.Chart(residuals).mark_bar(opacity=0.6).encode(
        x=alt.X("bin_start:Q", title="prediction − truth", bin="binned"), x2="bin_end:Q",
        y=alt.Y("requests:Q", title="requests", stack=None), color=role_color(residuals),
        tooltip=["model", "bin_start", "bin_end", "requests"]).properties(height=260)


def capacity_curve(steps: pd.DataFrame, objective_ms: float, percentile: str,
                   sustainable: pd.DataFrame) -> alt.LayerChart:
    """The hockey stick: each step's achieved throughput against its tail latency, per model, the
    objective as a dashed line and each model's sustainable rate as a rule (log latency axis: a
    queue's latency grows by orders of magnitude past the knee)."""
    column = f"{percentile}_ms"
    frame = steps.dropna(subset=[column]).sort_values(["model", "offered"])
    base = alt.Chart(frame).encode(
        x=alt.X("achieved:Q", title="achieved throughput (answers a second)"),
        y=alt.Y(f"{column}:Q", title=f"{percentile} latency (ms, log scale)", scale=alt.Scale(type="log")),
        color=role_color(frame),
        tooltip=["model", "repeat", alt.Tooltip("offered:Q", format=",.1f", title="offered (req/s)"),
                 alt.Tooltip("achieved:Q", format=",.1f", title="achieved (answers/s)"),
                 alt.Tooltip(f"{column}:Q", format=",.1f", title=f"{percentile} (ms)"),
                 alt.Tooltip("error_rate:Q", format=".1%", title="errors"), alt.Tooltip("late:Q", title="sent late")])
    points = base.mark_point(filled=True, size=50)
    objective = alt.Chart(pd.DataFrame({"ms": [objective_ms], "what": [f"objective: {percentile} ≤ {objective_ms:g} ms"]})) \
        .mark_rule(strokeDash=[6, 4], color="#555").encode(y="ms:Q", tooltip=["what"])
    rules = alt.Chart(sustainable).mark_rule(strokeWidth=2, opacity=0.6).encode(
        x=alt.X("rate:Q"), color=role_color(sustainable),
        tooltip=["model", alt.Tooltip("rate:Q", format=",.1f", title="sustainable rate (req/s)")])
    return alt.LayerChart(layer=[points, objective, rules]).properties(height=300)


def capacity_resources(steps: pd.DataFrame) -> alt.HConcatChart:
    """The server's CPU (cores) and memory (MB) against the offered rate, per model."""
    def panel(column: str, title: str) -> alt.Chart:
        return alt.Chart(steps.dropna(subset=[column])).mark_point(filled=True).encode(
            x=alt.X("offered:Q", title="offered rate (requests a second)"),
            y=alt.Y(f"{column}:Q", title=title), color=role_color(steps),
            tooltip=["model", "repeat", alt.Tooltip("offered:Q", format=",.1f"),
                     alt.Tooltip(f"{column}:Q", format=",.2f", title=title)]).properties(width=300, height=220)

    return alt.hconcat(panel("cpu_cores", "CPU used (cores)"), panel("memory_mb", "memory (MB, peak)"))


def spike_lines(spike: pd.DataFrame) -> alt.Chart:
    """Each second of the spike: its p99 per model (log scale), the spike's seconds shaded by phase in the tooltip."""
    frame = spike.dropna(subset=["p99_ms"])
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("second:Q", title="seconds from the spike run's start (the spike is the middle phase)"),
        y=alt.Y("p99_ms:Q", title="p99 latency in that second (ms, log scale)", scale=alt.Scale(type="log")),
        color=role_color(frame),
        tooltip=["model", "second", "phase", "sent", "errors", alt.Tooltip("p99_ms:Q", format=",.1f")],
    ).properties(height=240)


def attribution_bars(table: pd.DataFrame) -> alt.LayerChart:
    """Each feature's mean |attribution| per model with its 95% interval, the champion's order."""
    long = pd.concat([pd.DataFrame({"feature": table["feature"], "model": role, "mean_abs": table[f"{role}_mean_abs"],
                                    "low": table[f"{role}_low"], "high": table[f"{role}_high"],
                                    "share": table[f"{role}_share"]})
                      for role in ROLE_ORDER if f"{role}_mean_abs" in table])
    order = table["feature"].tolist()
    y = alt.Y("feature:N", sort=order, title=None)
    bars = alt.Chart(long).mark_bar().encode(
        x=alt.X("mean_abs:Q", title="mean |attribution| (95% interval)"), y=y, yOffset=alt.YOffset("model:N",
                                                                                                 sort=ROLE_ORDER),
        color=role_color(long), tooltip=["feature", "model", alt.Tooltip("mean_abs:Q", format=".4f"),
                                     alt.Tooltip("low:Q", format=".4f"), alt.Tooltip("high:Q", format=".4f"),
                                     alt.Tooltip("share:Q", format=".0%", title="share of the explanation")])
    whiskers = alt.Chart(long).mark_rule(color="#333").encode(x="low:Q", x2="high:Q", y=y,
                                                             yOffset=alt.YOffset("model:N", sort=ROLE_ORDER))
    return alt.LayerChart(layer=[bars, whiskers]).properties(height=max(120, 26 * len(order)))


def row_attribution_bars(row: pd.DataFrame) -> alt.Chart:
    """One request's attributions, signed, per model: what pushed each model toward its answer."""
    long = row.melt(id_vars="feature", var_name="model", value_name="attribution").dropna()
    order = row.assign(_size=row.drop(columns="feature").abs().max(axis=1)).sort_values(
        "_size", ascending=False)["feature"].tolist()
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("attribution:Q", title="attribution (pushes the explained output up or down)"),
        y=alt.Y("feature:N", sort=order, title=None), yOffset=alt.YOffset("model:N", sort=ROLE_ORDER),
        color=role_color(long), tooltip=["feature", "model", alt.Tooltip("attribution:Q", format="+.4f")],
    ).properties(height=max(120, 26 * len(order)))


SOURCE_SCALE = alt.Scale(domain=["training reference", "replayed traffic"], range=["#7f7f7f", "#e45756"])


def feature_distribution(frame: pd.DataFrame, feature: str) -> alt.Chart:
    """One input in the training reference and in the replayed traffic, as shares of each: step
    lines over shared bins for a number, side-by-side bars for a category."""
    color = alt.Color("source:N", title=None, scale=SOURCE_SCALE, legend=alt.Legend(orient="bottom", labelLimit=0))
    share = alt.Y("share:Q", title="share of rows", axis=alt.Axis(format="%", tickCount=4))
    if "bin_start" in frame.columns:
        return alt.Chart(frame, title=feature).mark_line(interpolate="step-after", strokeWidth=2).encode(
            x=alt.X("bin_start:Q", title=f"{feature} (value)", axis=alt.Axis(titleLimit=0)), y=share, color=color,
            tooltip=["source", alt.Tooltip("bin_start:Q", format=".4g", title="from"),
                     alt.Tooltip("bin_end:Q", format=".4g", title="to"), alt.Tooltip("share:Q", format=".1%")],
        ).properties(height=180)
    return alt.Chart(frame, title=feature).mark_bar().encode(
        x=alt.X("value:N", title=None, sort="-y", axis=alt.Axis(labelLimit=0, labelAngle=-30)),
        xOffset=alt.XOffset("source:N"), y=share, color=color,
        tooltip=["source", "value", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=180)


def resource_lines(usage: pd.DataFrame) -> alt.VConcatChart:
    """Each model server's CPU (cores) and memory (MB) second by second over the replay."""
    base = alt.Chart(usage).encode(x=alt.X("t_s:Q", title="seconds into the replay"), color=role_color(usage),
                                   tooltip=["model", alt.Tooltip("t_s:Q", format=".0f", title="second"),
                                            alt.Tooltip("cpu_cores:Q", format=".2f", title="CPU (cores)"),
                                            alt.Tooltip("memory_mb:Q", format=".0f", title="memory (MB)")])
    cpu = base.mark_line().encode(y=alt.Y("cpu_cores:Q", title="CPU (cores)")).properties(height=150)
    memory = base.mark_line().encode(y=alt.Y("memory_mb:Q", title="memory (MB)", scale=alt.Scale(zero=False))
                                     ).properties(height=150)
    return alt.vconcat(cpu, memory)


def canary_timeline(steps: pd.DataFrame, max_ratio: float | None = None) -> alt.LayerChart:
    """A canary's steps in order: the challenger's p95 latency over the champion's with its 95%
    interval, and each step's outcome (passed, failed, not judged, not reached) as its colour."""
    frame = steps.reset_index(drop=True).assign(step=lambda f: [f"{i + 1}: {share}%" for i, share in
                                                                 enumerate(f["share"])])
    frame["outcome"] = [("not reached" if r.get("reached") is False else "failed" if r.get("passed") is False
                         else "passed" if r.get("judged") else "not judged") for r in frame.to_dict("records")]
    for column in ("p95_ratio", "p95_ratio_low", "p95_ratio_high"):
        frame[column] = pd.to_numeric(frame.get(column), errors="coerce")
    order = list(frame["step"])
    colour = alt.Color("outcome:N", title="step", scale=alt.Scale(
        domain=[o for o in ("passed", "failed", "not judged", "not reached") if o in set(frame["outcome"])],
        range=[c for o, c in (("passed", "#54a24b"), ("failed", "#e45756"), ("not judged", "#bab0ac"),
                              ("not reached", "#d8d8d8")) if o in set(frame["outcome"])]))
    x = alt.X("step:N", sort=order, title="canary step (share of requests to the challenger)",
              axis=alt.Axis(labelAngle=0, titleLimit=0))
    points = alt.Chart(frame).mark_point(filled=True, size=90).encode(
        x=x, y=alt.Y("p95_ratio:Q", title="challenger p95 ÷ champion p95"), color=colour,
        tooltip=["step", "outcome", alt.Tooltip("p95_ratio:Q", format=".2f"), "reason"])
    bars = alt.Chart(frame).mark_rule().encode(x=x, y="p95_ratio_low:Q", y2="p95_ratio_high:Q", color=colour)
    layers = [bars, points]
    if max_ratio is not None:
        layers.append(alt.Chart(pd.DataFrame({"limit": [max_ratio]})).mark_rule(strokeDash=[4, 3], color="black")
                      .encode(y="limit:Q"))
    return alt.layer(*layers).properties(height=200)  # type: ignore[return-value]


def arm_timeline(windows: pd.DataFrame) -> alt.VConcatChart:
    """An A/B run's two arms window by window: p95 latency and the error rate, each with its 95%
    interval, side by side in the role colours (each arm on its own requests)."""
    frame = windows.assign(window_label=lambda f: [f"{w}: {a:.0f}–{b:.0f} s" for w, a, b in
                                                    zip(f["window"], f["from_s"], f["to_s"])])
    order = list(dict.fromkeys(frame["window_label"]))
    x = alt.X("window_label:N", sort=order, title="window of the replay (seconds into it)",
              axis=alt.Axis(labelAngle=0, titleLimit=0, labelLimit=0))
    offset = alt.XOffset("model:N", sort=ROLE_ORDER)
    tooltip: list[Any] = ["model", "window_label", "requests", "answers", "errors",
               alt.Tooltip("error_rate:Q", format=".2%"), alt.Tooltip("p95_ms:Q", format=".1f"),
               alt.Tooltip("p95_low:Q", format=".1f"), alt.Tooltip("p95_high:Q", format=".1f")]

    def panel(value: str, low: str, high: str, title: str, axis: alt.Axis | None = None) -> alt.LayerChart:
        base = alt.Chart(frame).encode(x=x, xOffset=offset, color=role_color(frame), tooltip=tooltip)
        y = alt.Y(f"{low}:Q", title=title, axis=axis or alt.Axis())
        layer = alt.layer(base.mark_rule().encode(y=y, y2=f"{high}:Q"),
                          base.mark_point(filled=True, size=70).encode(y=f"{value}:Q"))
        return layer.properties(height=170)  # type: ignore[return-value]

    return alt.vconcat(panel("p95_ms", "p95_low", "p95_high", "p95 latency (ms)"),
                       panel("error_rate", "error_rate_low", "error_rate_high", "failed answers",
                             alt.Axis(format="%")))
