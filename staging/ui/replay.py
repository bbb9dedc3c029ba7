"""The Replay page's widgets: the traffic source and its validation report, the selection,
the mode and timing settings, and the live progress of a replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from ..errors import StagingError
from ..replay import ReplaySettings, parse_canary_steps
from ..sandbox import Sandbox, TrafficSelection
from ..traffic import ValidatedTraffic
from .common import RUN_KEY, go, show_error
from .display import escaped, readable


def saved_upload(box: Sandbox, upload) -> Path:
    """Keep an uploaded traffic or label file under the sandbox home so runs can name it: by
    its content's hash, so a later upload of the same name never replaces what a run used."""
    return box.keep_upload(Path(upload.name).name, upload.getvalue())


TASK_LABELS: dict[str, str] = {"read": "Read from the models", "classification": "Classifiers",
                               "regression": "Regressions"}


@dataclass(frozen=True)
class TrafficForm:
    path: Path | str  # a local file, or an object-storage URL (fetched into the home when checked)
    selection: TrafficSelection
    labels_path: str | None
    columns: list[str]
    label_column: str | None = None
    validated: ValidatedTraffic | None = None  # the check already made, handed on so the file is read once
    reference_path: str | None = None  # the training data, for drift and estimates
    task: str | None = None  # what the user says the models are (None: read from the models)


@st.cache_data(show_spinner="Checking the traffic against the model signature…", max_entries=8)
def _validated(_box: Sandbox, model: str, version: str, path: str, mtime: float,
               reference_path: str | None = None) -> ValidatedTraffic:
    return _box.prepare_traffic(model, path, reference_path)


def traffic_form(box: Sandbox, model: str) -> TrafficForm | None:
    """Traffic source, validation report, time window and sample size; None if unusable."""
    scenario = box.scenario_for(model)
    sources = (["Recorded sample traffic"] if scenario else []) + ["Upload a file", "From object storage"]
    source = st.radio("Traffic", sources, horizontal=True)
    labels_path, label_column, reference_path = None, "", None
    checked: Path | None = None  # the local file checked (an object storage URL's copy)
    path: Path | str
    if source == "From object storage":
        url = st.text_input("Traffic URL: an object or a prefix (s3://bucket/prefix/…; credentials from the "
                            "standard AWS chain, never stored)", placeholder="s3://bucket/capture/endpoint/AllTraffic/")
        labels_url = st.text_input("Labels URL (optional)", placeholder="s3://bucket/ground-truth/")
        reference_url = st.text_input("Training reference URL (optional)", placeholder="s3://bucket/train.parquet")
        if not url.strip():
            return None
        try:
            with st.status("Reading from object storage…") as reading:
                said = st.empty()
                checked = box.fetch_remote(url.strip(), progress=lambda line: said.text(f"traffic: {line}")).path
                reference_path = str(box.fetch_remote(
                    reference_url.strip(), progress=lambda line: said.text(f"reference: {line}")).path) \
                    if reference_url.strip() else None
                reading.update(label="Read from object storage", state="complete", expanded=False)
        except StagingError as exc:
            show_error(exc)
            return None
        path = url.strip()
        labels_path = labels_url.strip() or None
    elif source == "Upload a file":
        upload = st.file_uploader("Recorded requests (CSV, Parquet, or JSON Lines: records, MLflow payloads, "
                                  "SageMaker Data Capture, KServe CloudEvents)",
                                  type=["csv", "parquet", "jsonl", "json"])
        labels = st.file_uploader("Labels that arrived later (optional; joined by request id; SageMaker ground "
                                  "truth JSON Lines are joined on inferenceId, else eventId)",
                                  type=["csv", "parquet", "jsonl"])
        label_column = st.text_input("Outcome column in the labels, if it is not named after the model's target",
                                     help="Leave empty when the labels' outcome column has the target's name, or "
                                          "when the file has a single column beside the request id.")
        reference = st.file_uploader("Training reference (optional): the training data, with the model's inputs "
                                     "(and the outcome, for estimates before labels)", type=["csv", "parquet"])
        if upload is None:
            return None
        path = saved_upload(box, upload)
        labels_path = str(saved_upload(box, labels)) if labels is not None else None
        reference_path = str(saved_upload(box, reference)) if reference is not None else None
    else:
        assert scenario is not None  # the sample traffic is offered only for a scenario's model
        path = scenario.file("traffic")
        st.caption(escaped(f"{scenario.file('traffic').name}: {scenario.story}"))
    task_choice = st.radio("What the models are", list(TASK_LABELS), format_func=TASK_LABELS.get, horizontal=True,
                               help="Read from what MLflow records (a sandbox.task tag, the model's class, its "
                                    "signature) and the labels; choose here when that is missing or wrong.")
    champion = box.resolve_pair(model)["champion"]
    try:
        local = checked or Path(path)  # a URL is checked as itself (its copy's time keys the cache)
        validated = _validated(box, model, champion.version, str(path), local.stat().st_mtime, reference_path)
    except StagingError as exc:
        show_error(exc)
        return None
    report = validated.report
    (st.warning if report.rows_quarantined else st.success)(escaped(report.summary()))  # it names the file's columns
    if report.rows_quarantined:
        with st.expander(escaped(f"Quarantined rows ({report.rows_quarantined:,}): kept aside, not replayed")):
            st.dataframe(readable(validated.quarantine.head(200)), hide_index=True)
    if not report.rows_valid:
        st.error("No row is valid, so there is nothing to replay. Fix the file and upload it again.")
        return None
    return TrafficForm(path, _selection(validated), labels_path,
                       [c for c in validated.requests.columns if not c.startswith("_")], label_column.strip() or None,
                       validated, reference_path, None if task_choice == "read" else task_choice)



MODE_LABELS = {"shadow": "Shadow: both models answer every request",
               "canary": "Canary: a ramped share goes to the challenger, with gates",
               "ab": "A/B: a sticky split by a key"}


TIMING_LABELS = {"max": "As fast as answered", "recorded": "As recorded (with a speed factor)",
                 "rate": "Fixed rate (open loop)"}


def replay_settings(columns: list[str]) -> ReplaySettings:
    """Mode, timing and their options, as the Replay page asks for them; `columns` are the
    traffic's columns, for the A/B key. ReplaySettings refuses combinations that cannot work."""
    mode = st.radio("Mode", list(MODE_LABELS), format_func=MODE_LABELS.get, horizontal=True)
    timing = st.radio("Timing", list(TIMING_LABELS), format_func=TIMING_LABELS.get, horizontal=True,
                      help="Open-loop timings send each request when it is due, answered or not, and count latency "
                           "from that moment, so a stalled server shows in the numbers.")
    options: dict = {"mode": mode, "timing": timing}
    left, right = st.columns(2)
    if timing == "max":
        options["concurrency"] = left.slider("Requests in flight", 1, 32, 2, help="Each request goes to every "
                                                                                  "model it is routed to.")
    elif timing == "recorded":
        options["speed"] = left.number_input("Speed factor", min_value=0.01, value=1.0, step=0.5,
                                             help="2 replays twice as fast as recorded (GoReplay's 200%).")
    else:
        options["rate_per_s"] = left.number_input("Requests per second", min_value=0.1, value=50.0, step=10.0)
    options["batch_size"] = right.number_input("Rows per request", min_value=1, value=1, step=100,
                                               help="Above 1: batch mode, for bulk comparison of large files.")
    score_column = st.text_input("Score column in the answers (optional)",
                                 help="The answer's column holding the positive class's probability, when it is not "
                                      "probability_<class>, probability, proba or score.")
    options["score_column"] = score_column.strip() or None
    if mode == "canary":
        steps = st.text_input("Challenger share at each step (%)", "5, 25, 50, 100")
        options["canary_steps"] = parse_canary_steps(steps)
        gate_left, gate_right = st.columns(2)
        options["canary_max_error_rate"] = gate_left.number_input(
            "Gate: challenger error rate at most", 0.0, 1.0, 0.02, step=0.01, format="%.3f")
        options["canary_max_p95_ratio"] = gate_right.number_input(
            "Gate: challenger p95 / champion p95 at most", 0.1, 100.0, 1.5, step=0.1)
    if mode == "ab":
        keys = ["request id", *[c for c in columns if c not in ("request_id", "timestamp")]]
        key = st.selectbox("Split key (the same key always meets the same model)", keys)
        options["split_key"] = None if key == "request id" else key
        options["challenger_share"] = st.slider("Share of keys that meet the challenger", 0.0, 1.0, 0.5, 0.05)
    return ReplaySettings(**options)


def _selection(validated: ValidatedTraffic) -> TrafficSelection:
    times = validated.requests["timestamp"].dropna()
    start = end = None
    rows = len(validated.requests)
    if not times.empty:
        first, last = times.min().date(), times.max().date()
        window = st.date_input("Time window", (first, last), min_value=first, max_value=last)
        if isinstance(window, (tuple, list)) and len(window) == 2:
            start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1]) + pd.Timedelta(days=1)
    left, right = st.columns(2)
    percent = left.number_input("Keep this percent of requests", min_value=0.1, max_value=100.0, value=100.0,
                                step=5.0, help="Chosen by a hash of the request id: the same requests every time.")
    sample = right.number_input("Then at most this many (a random sample)", min_value=1,
                                max_value=rows, value=min(1000, rows), step=100,
                                help="The model servers answer about 50 single-row requests a second each here; "
                                     "batch mode goes much faster.")
    return TrafficSelection(sample_size=int(sample), start=start, end=end,
                            sample_percent=None if percent >= 100 else float(percent))


def replay_progress(box: Sandbox) -> None:
    handle = box.replay
    if handle is None:
        return
    running = not handle.done

    @st.fragment(run_every=1.0 if running else None)
    def panel() -> None:
        progress = handle.progress
        if not handle.done:
            st.progress(progress.fraction, text=f"Run {handle.run_id}: {progress.completed:,} of {progress.total:,} "
                                                f"requests · {progress.throughput:,.0f} answers/s · "
                                                f"{progress.errors:,} errors")
            if st.button("Cancel replay"):
                handle.cancel()
            return
        if running:  # it finished while this panel was refreshing: redraw the page once
            st.rerun()
        if handle.error is not None:
            st.error(escaped(f"The replay failed: {handle.error}. Answers received before the failure are kept."))
        message = f"Run {handle.run_id} {progress.status}: {progress.completed:,} requests, {progress.errors:,} errors."
        (st.success if progress.status == "finished" else st.warning)(escaped(f"{message} {progress.reason}".strip()))
        st.session_state[RUN_KEY] = handle.run_id
        if st.button("See the comparison →", type="primary"):
            go("compare")

    panel()
