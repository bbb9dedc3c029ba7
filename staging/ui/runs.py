"""The run picker and a run's evidence, as the Compare, Drift and Promote pages read them:
runs told apart in the picker, the evidence cached per run, and the note on an unfinished
run, a canary's steps and an A/B run's arms over time."""

from __future__ import annotations

import time

import streamlit as st

from ..analytics.arms import split_sentence
from ..evidence import RunEvidence
from ..report.charts import arm_timeline, canary_timeline
from ..report.writer import canary_table
from ..runs import RunManifest
from ..sandbox import Sandbox
from .common import RUN_KEY, current_model, keep_link, linked
from .display import escaped, readable


def chosen_run(box: Sandbox) -> tuple[str | None, str | None]:
    """(model chosen in the sidebar, run chosen on the page); None where there is none yet."""
    model = current_model()
    return model, (run_picker(box, model) if model else None)


def run_evidence(box: Sandbox) -> tuple[str | None, str | None, RunEvidence | None]:
    """(model, run, its analysis) as chosen on the page, with a warning for an unfinished run."""
    model, run_id = chosen_run(box)
    if run_id is None:
        return model, None, None
    result = evidence(box, run_id)
    run_status_note(result)
    return model, run_id, result


def run_picker(box: Sandbox, model_name: str) -> str | None:
    runs = box.runs(model_name)
    if not runs:
        st.info("No replay run for this model yet. Start one on the Replay page.")
        return None
    labels = {r.run_id: run_label(r, box) for r in runs}
    ids = list(labels)
    current = linked("run", ids) or st.session_state.get(RUN_KEY)
    index = ids.index(current) if current in ids else 0
    choice: str | None = st.selectbox("Run", ids, index=index, format_func=lambda run_id: labels[run_id])
    st.session_state[RUN_KEY] = choice
    keep_link("run", choice)
    return choice


def run_label(manifest: RunManifest, box: Sandbox | None = None) -> str:
    """Enough to tell two runs apart: time, versions, traffic file, mode, requests, labels,
    status and a short id."""
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(manifest.started_at))
    versions = " vs ".join(f"v{manifest.version(r)}" for r in ("champion", "challenger") if r in manifest.models)
    labelled = box.labelled(manifest.run_id) if box is not None else None
    if labelled is None and manifest.labels_source and manifest.labels_source.get("matched") is not None:
        labelled = int(manifest.labels_source["matched"])  # as the labels were joined, before any evidence
    if labelled is not None:
        labels = f"{labelled:,} labelled"
    else:
        labels = "labels attached" if manifest.labels_path else "no labels"
    return (f"{started} · {versions} · {manifest.traffic.name} · {manifest.mode} · {manifest.traffic.replayed:,} "
            f"requests · {labels} · {manifest.status} · #{manifest.run_id[-6:]}")


@st.cache_data(show_spinner="Reading the run…", max_entries=16)
def _evidence(_box: Sandbox, run_id: str, status: str, ended_at: float | None) -> RunEvidence:
    return _box.evidence(run_id)


def evidence(box: Sandbox, run_id: str) -> RunEvidence:
    """A run's evidence, cached until the run changes (a running run is read afresh)."""
    manifest = box.run(run_id)
    if manifest.running:
        return box.evidence(run_id)
    return _evidence(box, run_id, manifest.status, manifest.ended_at)


def run_status_note(result: RunEvidence) -> None:
    manifest = result.manifest
    split_report(result)
    if not manifest.finished:
        st.warning(escaped(f"This run is {manifest.status}. {manifest.end_reason} "
                   "The numbers cover the requests answered so far."))


def split_report(result: RunEvidence) -> None:
    """A canary's steps or an A/B run's arms over time; nothing for a shadow run."""
    if result.manifest.mode == "canary":
        canary_report(result.manifest)
    elif result.manifest.mode == "ab" and result.arm_windows is not None and not result.arm_windows.empty:
        ab_report(result)


def ab_report(result: RunEvidence) -> None:
    """An A/B run's split and its two arms window by window, each on its own requests."""
    settings = result.manifest.settings
    key = settings.split_key or "the request id"
    st.info(escaped(f"A/B run split by {key}: the same key always met the same model. "
                    + split_sentence(result.arm_windows, settings.challenger_share)))
    st.altair_chart(arm_timeline(result.arm_windows), width="stretch")
    st.caption("The replay cut into five equal windows of its own clock. In each, each arm's p95 latency and share of "
               "failed answers with their 95% intervals, on that arm's own requests (the arms never answered the same "
               "request, so nothing here is paired).")
    with st.expander("The arms window by window, as numbers"):
        st.dataframe(readable(result.arm_windows), hide_index=True)


def canary_report(manifest: RunManifest) -> None:
    """A canary run's steps and gates, as a table with the verdict above it."""
    steps = manifest.summary.canary
    if not steps:
        return
    (st.error if manifest.status == "aborted" else st.success)(
        escaped(manifest.end_reason or f"The canary went through all {len(steps)} steps; every gate passed."))
    table = canary_table(manifest)
    if "p95_ratio" in table.columns:  # runs from before the intervals have no timeline to draw
        st.altair_chart(canary_timeline(table, manifest.settings.canary_max_p95_ratio), width="stretch")
        st.caption("Each step of the canary in order: the challenger's p95 latency over the champion's with its 95% "
                   "interval (a step aborts only when the whole interval is above the dashed limit), coloured by what "
                   "the step's gates decided.")
    st.dataframe(readable(table), hide_index=True)
