"""The Environment page's widgets: the backend picker, starting both servers with their
progress streamed to the page, and the live table of their health and usage."""

from __future__ import annotations

import queue
import threading
import time

import pandas as pd
import streamlit as st

from ..backends import BACKEND_NAMES
from ..errors import StagingError
from ..sandbox import Sandbox
from .display import escaped, readable


def trust_picker(box: Sandbox, model: str) -> tuple[str, ...]:
    """A box per model version that holds its own code (a cloudpickled PythonModel): ticked, the
    user trusts that version for these servers, and the run and the gate record it."""
    refs = box.resolve_pair(model)
    try:
        scans = box.scan_models(refs)
    except StagingError:
        return ()  # the files cannot be read here: starting will say why
    trusted = []
    for role, scan in scans.items():
        if scan.model_code:
            st.warning(escaped(f"The {role}, {scan.model}, holds its own Python code (a custom PythonModel, pickled "
                               "with cloudpickle): it runs when the model loads."))
            if st.checkbox(escaped(f"I trust {scan.model}'s code (recorded in the run and shown by the gate)"),
                           key=f"staging.trust.{scan.model}"):
                trusted.append(role)
    return tuple(trusted)


def start_servers_live(box: Sandbox, model: str, replica: bool = False,
                       runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = ()) -> None:
    """Start both servers in a worker thread and stream its progress (image builds included)
    to the page from the script thread, the only one allowed to draw."""
    messages: queue.Queue[str] = queue.Queue()
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            box.start_servers(model, progress=lambda role, message: messages.put(f"{role}: {message}"),
                              replica=replica, runtimes=runtimes, trust=trust)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the script thread below
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    lines: list[str] = []
    said = st.empty()  # one line in words for a stakeholder; the raw log for whoever opens it
    with st.expander("The servers' log (image builds included)"):
        shown = st.empty()
    began = time.monotonic()
    while worker.is_alive() or not messages.empty():
        while not messages.empty():
            lines.append(messages.get())
        said.text(_starting_words(lines, box.backend_name, time.monotonic() - began))
        shown.code("\n".join(lines[-14:]) or "starting…", language="text")
        time.sleep(0.3)
    if "error" in outcome:
        raise outcome["error"]


def _starting_words(lines: list[str], backend: str, elapsed: float) -> str:
    """What is happening while the servers start, in words, with an honest estimate."""
    if any(line.startswith("image:") for line in lines):
        return (f"Building the model images, once per model version ({elapsed:.0f} s so far; the first build on a "
                "machine takes a few minutes, later ones reuse it)…")
    if any("environment" in line for line in lines[-3:]):
        return (f"Making each model's own Python environment from its requirements ({elapsed:.0f} s so far; once per "
                "requirement set, a minute or two the first time)…")
    where = "containers" if backend == "docker" else "local processes" if backend == "process" else backend
    return f"Starting the two model servers as {where} ({elapsed:.0f} s so far; usually 10 to 20 s)…"


def backend_picker(box: Sandbox) -> None:
    """Choose where models run; switching stops the running servers."""
    names = list(BACKEND_NAMES)
    choice = st.selectbox("Where the models run", names, index=names.index(box.backend_name),
                          help="auto: containers when a Docker engine answers, else local processes. "
                               "endpoint: servers that already run elsewhere.")
    if choice == "endpoint":
        endpoint_form(box)
    elif choice != box.backend_name:
        box.use_backend(choice)
        st.rerun()


def endpoint_form(box: Sandbox) -> None:
    """Two URLs, checked against the allow-list as they are typed; where traffic will go is shown
    before anything is sent."""
    left, right = st.columns(2)
    urls = {"champion": left.text_input("Champion URL", placeholder="http://127.0.0.1:5001"),
            "challenger": right.text_input("Challenger URL", placeholder="http://127.0.0.1:5002")}
    st.caption(escaped("Traffic may go only to these hosts: " + ", ".join(box.allowed_hosts)))
    host_box, add = st.columns([3, 1])
    host = host_box.text_input("Allow another host", placeholder="models.internal",
                               help="For this app's session; STAGING_ALLOWED_HOSTS makes it lasting.")
    if add.button("Allow host", disabled=not host.strip()):
        box.allow_host(host)
        st.rerun()
    try:
        destinations = box.endpoint_destinations(urls)
    except StagingError as error:
        st.error(escaped(str(error)))
        return
    for role, where in destinations.items():
        st.text(f"The {role}'s traffic will go to: {where}")
    ready = len(destinations) == 2
    if st.button("Use these endpoints", disabled=not ready):
        box.use_backend("endpoint", urls)
        st.rerun()


RUNTIME_LABELS = {"mlflow": "MLflow's scoring server (mlflow models serve)",
                  "mlserver": "MLServer, the Open Inference Protocol (V2), as KServe and Seldon serve MLflow models"}


def runtime_picker(box: Sandbox, replica: bool) -> dict[str, str]:
    """What serves each model (not for endpoints, which are served elsewhere): role -> runtime."""
    if box.backend_name == "endpoint":
        return {}
    roles = ["champion", "challenger"] + (["champion_replica"] if replica else [])
    columns = st.columns(len(roles))
    chosen: dict[str, str] = {}
    for role, column in zip(roles, columns, strict=True):
        runtime = column.selectbox(escaped(f"{role.replace('_', ' ')} runs on"), list(RUNTIME_LABELS),
                                   format_func=lambda name: RUNTIME_LABELS[name], key=f"runtime-{role}",
                                   help="MLServer shows how the model behaves on the runtime a cluster runs; a "
                                        "replica on MLServer makes the runtime's own effect the noise floor.")
        chosen[role] = str(runtime or "mlflow")
    return chosen


STATUS_COLUMNS = ["role", "status", "healthy", "cpu_percent", "memory_mb", "memory_limit_mb",
                  "uptime_s", "model", "runtime", "protocol", "url", "image", "backend"]


@st.fragment(run_every=5)
def live_server_table(box: Sandbox) -> None:
    """The servers' state, health and usage, refreshed every five seconds."""
    rows = pd.DataFrame(box.server_status())
    if rows.empty:
        st.write("No model server is running.")
        return
    # one health: the sandbox's own check of each server (it answers /ping or /ready now); the
    # engine's HEALTHCHECK lags it by its interval, so it is not shown beside it
    st.dataframe(readable(rows[[c for c in STATUS_COLUMNS if c in rows.columns]]), hide_index=True)
    usage = "; CPU is a share of one core" if "cpu_percent" in rows.columns else ""
    st.caption(escaped(f"Refreshed {time.strftime('%H:%M:%S')}{usage}."))


def servers_for_another_model(box: Sandbox, model: str) -> None:
    """Say so when the running servers serve another model (or other versions) than the chosen one."""
    if not box.servers or box.servers_match(model):
        return
    serving = ", ".join(sorted({f"{s.model.name} v{s.model.version}" for s in box.servers.values()}))
    st.warning(escaped(f"The running servers serve {serving}, not the versions {model}'s aliases point at: "
               "start its servers before replaying its traffic."))
