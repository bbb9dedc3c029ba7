"""The Overview page's widgets: the demo in one click, all the way to a verdict card; the card
itself (the gate's verdict and the checks that decided it, with their rule and interval; the weekly
story when the difference moved; agreement, quality, latency and drift, and why they differ once
the run is explained: one sentence each, each leading to its page); the latest run; and the
registered models with their aliases; and what the watcher found by itself."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from ..registry.scenarios import SCENARIOS
from ..report.charts import weekly_lines
from ..runs import RunManifest
from ..sandbox import Sandbox
from .common import MODEL_KEY, PAGES, RUN_KEY
from .display import escaped
from .environment import start_servers_live
from .promote import HEADLINES
from .runs import evidence, run_label, split_report

DEMO_REQUESTS = 1000


def run_demo(box: Sandbox) -> None:
    """Register the demo models, start both servers, replay, and follow the replay to its end,
    saying each step in plain words; the page then opens on the verdict card."""
    scenario = SCENARIOS["credit"]
    with st.status("Running the demo: four steps, usually under a minute…", expanded=True) as status:
        began = time.monotonic()
        st.write("1 of 4: training the two demo models and registering them as champion and challenger in the MLflow "
                 "registry (about 10 s the first time)…")
        box.load_demo()
        st.write(escaped(f"2 of 4: starting both model servers, MLflow's scoring server ({time.monotonic() - began:.0f} "
                         f"s so far). {box.backend_notice}"))
        start_servers_live(box, scenario.model_name)
        st.write(escaped(f"3 of 4: replaying {DEMO_REQUESTS:,} recorded loan applications against both models…"))
        handle = box.begin_demo_replay(scenario.key, DEMO_REQUESTS)
        bar = st.progress(0.0, text="Replaying recorded requests against both models…")
        while not handle.done:
            progress = handle.progress
            rate = progress.completed / max(time.monotonic() - progress.started_at, 1e-6)  # requests a second
            left = (f"; about {max(1, round((progress.total - progress.completed) / rate)):,} s left"
                    if progress.completed else "")
            bar.progress(progress.fraction, text=f"Replaying: {progress.completed:,} of {progress.total:,} requests "
                                                 f"answered by both models{left}…")
            time.sleep(0.5)
        progress = handle.wait()
        bar.progress(1.0, text=f"Replayed {progress.completed:,} requests.")
        st.write("4 of 4: reading the evidence and judging it under the policy…")
        if handle.error is not None:
            raise handle.error
        status.update(label="Demo done: the verdict is below", state="complete", expanded=False)
    st.session_state[MODEL_KEY] = scenario.model_name
    st.session_state[RUN_KEY] = handle.run_id
    st.rerun()


def verdict_card(box: Sandbox, run_id: str) -> None:
    """The run in five sentences, each leading to the page that holds its evidence."""
    result = evidence(box, run_id)
    verdict = box.gate(result)
    with st.container(border=True):
        st.subheader(HEADLINES[verdict.status].replace("Gate:", "The verdict:"))
        _line(f"Under the policy '{verdict.policy.name}' ({len(verdict.checks)} checks): {verdict.headline()}",
              "promote", "Gate checks →")
        for check in verdict.deciding_checks(4):  # the rule, where the interval lies, what would decide it
            st.text(f"{check.name}: {check.sentence}")
        split_report(result)  # a canary's steps, an A/B run's arms over time; on the card too
        if result.weekly_story:
            story, chart = st.columns([2, 3])
            story.text(result.weekly_story)
            metric = "mae" if result.task == "regression" else "accuracy"
            columns = [c for c in result.weekly.columns if c.endswith(metric)]
            if columns:
                chart.altair_chart(weekly_lines(result.weekly, columns, f"{metric}, each week"), width="stretch")
        _line(result.agreement_sentence(), "compare", "Agreement →")
        quality = result.quality_sentence() or ("No labels for this run yet, so quality cannot be judged."
                                                if not result.labelled else "Quality on each model's own requests.")
        _line(quality, "compare", "Quality →")
        _line(result.latency_sentence(), "compare", "Latency →")
        _line(result.drift_sentence(), "drift", "Drift →")
        explanation = box.explanation(run_id)
        if explanation is not None and explanation.comparison(0) is not None:
            _line(explanation.headline(0), "compare", "Why they differ →")


def _line(sentence: str, page: str, label: str) -> None:
    left, right = st.columns([4, 1])
    left.text(sentence)
    right.page_link(PAGES[page], label=label)


def latest_run(box: Sandbox, model: str | None) -> RunManifest | None:
    """The run to show first: the one chosen in this session, else the model's newest."""
    runs = box.runs(model) if model else box.runs()
    if not runs:
        return None
    chosen = st.session_state.get(RUN_KEY)
    return next((r for r in runs if r.run_id == chosen), runs[0])


def latest_run_line(box: Sandbox, run: RunManifest) -> None:
    st.text(f"Latest run: {run_label(run, box)}")


def watcher_series(box: Sandbox, model: str | None) -> None:
    """The verdicts the watcher reached for the model (on webhooks and on its schedule), newest
    first: the date, the verdict and a link to the run's evidence on Compare."""
    points = box.verdict_series(model) if model else []
    if not points:
        return
    st.subheader("What the watcher found")
    st.caption("Each comparison the watcher ran by itself (python -m staging watch): a new @challenger, or its "
               "schedule. It never promotes; the verdict is also tagged on the version.")
    table = pd.DataFrame([{"date": p.at, "verdict": p.status, "challenger": f"v{p.challenger}",
                           "champion": f"v{p.champion}", "why": p.trigger, "headline": p.headline,
                           "run": f"./compare?{urlencode({'model': p.model, 'run': p.run_id})}" if p.run_id else None}
                          for p in reversed(points)])
    st.dataframe(table, hide_index=True, column_config={
        "run": st.column_config.LinkColumn("run", display_text=r"run=([0-9a-z_\-]+)")})


def registered_models(box: Sandbox) -> pd.DataFrame:
    """One row per registered model: its name and the version each alias points at."""
    return pd.DataFrame([{"model": name, **{f"@{alias}": f"v{version}" for alias, version in box.aliases(name).items()}}
                         for name in box.model_names()])
