"""Streamlit helpers shared by the pages: the one module in `staging` that imports streamlit.

Cached accessors (the process-wide `Sandbox`), session-state keys, the model and run
pickers, and `guard`, which turns any failure into a message on the page: what went
wrong and what to do, never a traceback.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from .analysis import RunAnalysis
from .backends import BACKEND_NAMES
from .errors import StagingError
from .home import SandboxHome
from .replay import ReplaySettings
from .replay_plan import parse_canary_steps
from .sandbox import Sandbox, TrafficSelection
from .traffic import ValidatedTraffic

log = logging.getLogger("staging.ui")

MODEL_KEY = "staging.model_name"
RUN_KEY = "staging.run_id"
NOTICE_KEY = "staging.notice"
PAGES = {
    "overview": "pages/overview.py",
    "environment": "pages/environment.py",
    "replay": "pages/replay.py",
    "compare": "pages/compare.py",
    "drift": "pages/drift.py",
    "promote": "pages/promote.py",
}


@st.cache_resource(show_spinner="Opening the sandbox…")
def _sandbox(home: str) -> Sandbox:
    sandbox = Sandbox(SandboxHome.from_env(home))
    atexit.register(sandbox.close)
    return sandbox


def sandbox() -> Sandbox:
    """The process-wide sandbox (its servers and replay outlive page reruns)."""
    return _sandbox(str(SandboxHome.from_env().root))


@contextmanager
def guard():
    """Show any failure as a message with its remedy; the rest of the page still renders."""
    try:
        yield
    except StagingError as exc:
        show_error(exc)
    except Exception as exc:  # noqa: BLE001 - nothing may reach the page as a traceback
        log.exception("unexpected failure on a page")
        st.error(f"Something failed that the sandbox did not expect: {type(exc).__name__}: {exc}. "
                 "Nothing was changed in the registry. The app's log has the details; try again, "
                 "and report it if it happens again.")


def show_error(exc: StagingError) -> None:
    st.error(exc.message)
    if exc.hint:
        st.info(exc.hint)
    if exc.detail:
        with st.expander("Log tail", expanded=True):
            st.code(exc.detail, language="text")


def flash(message: str, kind: str = "success") -> None:
    """A message that survives one rerun (for buttons that rerun or switch page)."""
    st.session_state[NOTICE_KEY] = (kind, message)


def show_flash() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        getattr(st, notice[0])(notice[1])


def model_picker(box: Sandbox) -> str | None:
    """Sidebar choice of registered model; remembered across pages."""
    names = box.model_names()
    if not names:
        st.sidebar.info("No registered model yet: load the demo on the Overview page.")
        return None
    current = st.session_state.get(MODEL_KEY)
    index = names.index(current) if current in names else 0
    choice = st.sidebar.selectbox("Registered model", names, index=index)
    st.session_state[MODEL_KEY] = choice
    return choice


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)
    show_flash()


def chosen_run(box: Sandbox) -> tuple[str | None, str | None]:
    """(model chosen in the sidebar, run chosen on the page); None where there is none yet."""
    model = current_model()
    return model, (run_picker(box, model) if model else None)


def run_evidence(box: Sandbox) -> tuple[str | None, str | None, RunAnalysis | None]:
    """(model, run, its analysis) as chosen on the page, with a warning for an unfinished run."""
    model, run_id = chosen_run(box)
    if run_id is None:
        return model, None, None
    result = analysis(box, run_id)
    run_status_note(result)
    return model, run_id, result


def current_model() -> str | None:
    """The model chosen in the sidebar (the entry point draws the picker before each page)."""
    return st.session_state.get(MODEL_KEY)


def run_picker(box: Sandbox, model_name: str) -> str | None:
    runs = [r for r in box.runs(model_name)]
    if not runs:
        st.info("No replay run for this model yet. Start one on the Replay page.")
        return None
    labels = {r["run_id"]: run_label(r) for r in runs}
    ids = list(labels)
    current = st.session_state.get(RUN_KEY)
    index = ids.index(current) if current in ids else 0
    choice = st.selectbox("Run", ids, index=index, format_func=labels.get)
    st.session_state[RUN_KEY] = choice
    return choice


def run_label(manifest: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(manifest.get("started_at", 0)))
    models = manifest.get("models", {})
    versions = " vs ".join(f"v{models[r]['version']}" for r in ("champion", "challenger") if r in models)
    replayed = manifest.get("traffic", {}).get("replayed", "?")
    return f"{started} · {versions} · {replayed} requests · {manifest.get('status')}"


def percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


def saved_upload(box: Sandbox, upload) -> Path:
    """Keep an uploaded traffic or label file under the sandbox home so runs can name it."""
    folder = box.home.root / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path


def go(page: str) -> None:
    st.switch_page(PAGES[page])


@dataclass(frozen=True)
class TrafficForm:
    path: Path
    selection: TrafficSelection
    labels_path: str | None
    columns: list[str]


@st.cache_data(show_spinner="Checking the traffic against the model signature…", max_entries=8)
def _validated(_box: Sandbox, model: str, version: str, path: str, mtime: float) -> ValidatedTraffic:
    return _box.prepare_traffic(model, path)


def traffic_form(box: Sandbox, model: str) -> TrafficForm | None:
    """Traffic source, validation report, time window and sample size; None if unusable."""
    scenario = box.scenario_for(model)
    sources = (["Recorded sample traffic"] if scenario else []) + ["Upload a file"]
    source = st.radio("Traffic", sources, horizontal=True)
    labels_path = None
    if source == "Upload a file":
        upload = st.file_uploader("Recorded requests (CSV, Parquet, or JSON Lines: records, MLflow payloads, "
                                  "SageMaker Data Capture, KServe CloudEvents)", type=["csv", "parquet", "jsonl", "json"])
        labels = st.file_uploader("Labels that arrived later (optional; joined by request id; SageMaker ground "
                                  "truth JSON Lines are joined on inferenceId, else eventId)",
                                  type=["csv", "parquet", "jsonl"])
        if upload is None:
            return None
        path = saved_upload(box, upload)
        labels_path = str(saved_upload(box, labels)) if labels is not None else None
    else:
        path = scenario.file("traffic")
        st.caption(f"{path.name}: {scenario.story}")
    champion = box.registry.resolve(model, "champion")
    try:
        validated = _validated(box, model, champion.version, str(path), path.stat().st_mtime)
    except StagingError as exc:
        show_error(exc)
        return None
    report = validated.report
    (st.warning if report.rows_quarantined else st.success)(report.summary())
    if report.rows_quarantined:
        with st.expander(f"Quarantined rows ({report.rows_quarantined:,}): kept aside, not replayed"):
            st.dataframe(validated.quarantine.head(200), hide_index=True)
    if not report.rows_valid:
        st.error("No row is valid, so there is nothing to replay. Fix the file and upload it again.")
        return None
    return TrafficForm(path, _selection(validated), labels_path, list(validated.requests.columns))


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


def canary_report(manifest: dict) -> None:
    """A canary run's steps and gates, as a table with the verdict above it."""
    steps = manifest.get("summary", {}).get("canary")
    if not steps:
        return
    (st.error if manifest.get("status") == "aborted" else st.success)(
        manifest.get("end_reason") or f"The canary went through all {len(steps)} steps; every gate passed.")
    st.dataframe(pd.DataFrame(steps), hide_index=True)


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
            st.error(f"The replay failed: {handle.error}. Answers received before the failure are kept.")
        message = f"Run {handle.run_id} {progress.status}: {progress.completed:,} requests, {progress.errors:,} errors."
        (st.success if progress.status == "finished" else st.warning)(f"{message} {progress.reason}".strip())
        st.session_state[RUN_KEY] = handle.run_id
        if st.button("See the comparison →", type="primary"):
            go("compare")

    panel()


@st.cache_data(show_spinner="Reading the run…", max_entries=16)
def _analysis(_box: Sandbox, run_id: str, status: str, ended_at) -> RunAnalysis:
    return _box.analyze(run_id)


def analysis(box: Sandbox, run_id: str) -> RunAnalysis:
    """A run's analysis, cached until the run changes (a running run is read afresh)."""
    manifest = box.store.manifest(run_id)
    if manifest.get("status") == "running":
        return box.analyze(run_id)
    return _analysis(box, run_id, manifest["status"], manifest.get("ended_at"))


def run_status_note(result: RunAnalysis) -> None:
    manifest = result.manifest
    canary_report(manifest)
    if manifest["status"] != "finished":
        st.warning(f"This run is {manifest['status']}. {manifest.get('end_reason', '')} "
                   "The numbers cover the requests answered so far.")


def start_servers_live(box: Sandbox, model: str, replica: bool = False) -> None:
    """Start both servers in a worker thread and stream its progress (image builds included)
    to the page from the script thread, the only one allowed to draw."""
    messages: queue.Queue[str] = queue.Queue()
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            box.start_servers(model, progress=lambda role, message: messages.put(f"{role}: {message}"),
                              replica=replica)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the script thread below
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    lines: list[str] = []
    shown = st.empty()
    while worker.is_alive() or not messages.empty():
        while not messages.empty():
            lines.append(messages.get())
        shown.code("\n".join(lines[-14:]) or "starting…", language="text")
        time.sleep(0.3)
    if "error" in outcome:
        raise outcome["error"]


def backend_picker(box: Sandbox) -> None:
    """Choose where models run; switching stops the running servers."""
    names = list(BACKEND_NAMES)
    choice = st.selectbox("Where the models run", names, index=names.index(box.backend_name),
                          help="auto: containers when a Docker engine answers, else local processes. "
                               "endpoint: servers that already run elsewhere.")
    urls = {}
    if choice == "endpoint":
        left, right = st.columns(2)
        urls = {"champion": left.text_input("Champion URL", placeholder="http://127.0.0.1:5001"),
                "challenger": right.text_input("Challenger URL", placeholder="http://127.0.0.1:5002")}
    if choice != box.backend_name or (choice == "endpoint" and st.button("Use these endpoints")):
        box.use_backend(choice, urls)
        st.rerun()


STATUS_COLUMNS = ["role", "status", "health", "healthy", "cpu_percent", "memory_mb", "memory_limit_mb",
                  "uptime_s", "model", "url", "image", "backend"]


@st.fragment(run_every=5)
def live_server_table(box: Sandbox) -> None:
    """The servers' state, health and usage, refreshed every five seconds."""
    rows = pd.DataFrame(box.server_status())
    if rows.empty:
        st.write("No model server is running.")
        return
    st.dataframe(rows[[c for c in STATUS_COLUMNS if c in rows.columns]], hide_index=True)
    st.caption(f"Refreshed {time.strftime('%H:%M:%S')}; CPU is a share of one core.")


DEFAULT_TEST = "default (Evidently's choice)"
DRIFT_COLUMNS = ["feature", "type", "test", "score", "threshold", "drifted", "evidently_drifted", "why", "q_value",
                 "effect", "noise", "psi", "reference", "current"]


def drift_choices(drift: pd.DataFrame) -> dict[str, tuple[str | None, float | None]]:
    """An editable table of each column's test and threshold; returns only what was changed."""
    from .analytics.drift import STAT_TESTS

    with st.expander("Choose the test or threshold of a column"):
        table = pd.DataFrame({"feature": drift["feature"], "test": DEFAULT_TEST, "threshold": None})
        edited = st.data_editor(
            table, hide_index=True, disabled=["feature"], key="drift-choices",
            column_config={"test": st.column_config.SelectboxColumn(options=[DEFAULT_TEST, *STAT_TESTS]),
                           "threshold": st.column_config.NumberColumn(min_value=0.0, max_value=10.0, step=0.01)})
    choices = {}
    for row in edited.to_dict("records"):
        test = None if row["test"] == DEFAULT_TEST else row["test"]
        threshold = None if pd.isna(row["threshold"]) else float(row["threshold"])
        if test is not None or threshold is not None:
            choices[row["feature"]] = (test, threshold)
    return choices
