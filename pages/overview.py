"""Overview: what the sandbox does, the registered models and aliases, and the demo."""

import pandas as pd
import streamlit as st

from staging import SCENARIOS, ui

DEMO_REQUESTS = 1000

ui.page_header("Staging sandbox", "Judge a new model on last week's real traffic, side by side with the one in production, "
               "before anyone promotes it.")

with ui.guard():
    box = ui.sandbox()
    st.info(box.backend_notice)
    if box.swept:
        st.caption(f"Stopped {len(box.swept)} model server(s) left behind by an earlier app: {', '.join(box.swept)}.")

    st.subheader("The demo")
    st.write(SCENARIOS["credit"].story)
    left, right = st.columns(2)
    if left.button("▶ Run the demo", type="primary", help="Registers the demo models, starts both servers and "
                   "replays 1,000 recorded requests. About a minute."):
        with st.status("Running the demo…", expanded=True) as status:
            st.write("Registering champion and challenger in the MLflow registry…")
            box.load_demo()
            st.write("Starting both model servers (MLflow scoring server)…")
            ui.start_servers_live(box, SCENARIOS["credit"].model_name)
            st.write("Replaying 1,000 recorded requests against both…")
            box.begin_demo_replay(SCENARIOS["credit"].key, DEMO_REQUESTS)
            status.update(label="Demo started", state="complete")
        st.session_state[ui.MODEL_KEY] = SCENARIOS["credit"].model_name
        ui.go("replay")
    if right.button("Load the demo models only", help="Train and register the models; start nothing."):
        loaded = box.load_demo()
        ui.flash("Demo models ready: " + ", ".join(
            f"{m.champion.name} (champion v{m.champion.version}, challenger v{m.challenger.version})" for m in loaded))
        st.rerun()

    st.subheader("Registered models")
    names = box.model_names()
    if not names:
        st.write("The registry is empty. Run the demo, or register a model with aliases `champion` and `challenger`.")
    else:
        rows = [{"model": name, **{f"@{alias}": f"v{version}" for alias, version in box.registry.aliases(name).items()}}
                for name in names]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.markdown("**Next steps:** start the servers on **Environment**, replay traffic on **Replay**, read the "
                "evidence on **Compare** and **Drift**, then sign off on **Promote**.")
