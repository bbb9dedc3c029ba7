"""The Overview page's widgets: the demo in one click, and the registered models with their aliases."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..sandbox import Sandbox
from ..scenarios import SCENARIOS
from .common import MODEL_KEY, go
from .environment import start_servers_live

DEMO_REQUESTS = 1000


def run_demo(box: Sandbox) -> None:
    """Register the demo models, start both servers and begin the replay, saying each step,
    then go to the Replay page, which follows it."""
    scenario = SCENARIOS["credit"]
    with st.status("Running the demo…", expanded=True) as status:
        st.write("Registering champion and challenger in the MLflow registry…")
        box.load_demo()
        st.write("Starting both model servers (MLflow scoring server)…")
        start_servers_live(box, scenario.model_name)
        st.write(f"Replaying {DEMO_REQUESTS:,} recorded requests against both…")
        box.begin_demo_replay(scenario.key, DEMO_REQUESTS)
        status.update(label="Demo started", state="complete")
    st.session_state[MODEL_KEY] = scenario.model_name
    go("replay")


def registered_models(box: Sandbox) -> pd.DataFrame:
    """One row per registered model: its name and the version each alias points at."""
    return pd.DataFrame([{"model": name, **{f"@{alias}": f"v{version}" for alias, version in box.aliases(name).items()}}
                         for name in box.model_names()])
