"""Environment: where the models run, start and stop them, their health, usage and logs."""

import streamlit as st

from staging import ui

ui.page_header("Environment", "Each model runs as a real model server: MLflow's scoring server, or MLServer "
                              "speaking the Open Inference Protocol (V2).")

with ui.guard():
    box = ui.sandbox()
    model = ui.current_model()
    ui.backend_picker(box)
    st.info(ui.escaped(box.backend_notice))
    if model:
        refs = box.resolve_pair(model)
        st.text(f"{model}: champion v{refs['champion'].version}, challenger v{refs['challenger'].version}.")
        ui.servers_for_another_model(box, model)
        replica = st.checkbox("Also run a second copy of the champion (noise floor)",
                              help="Its differences from the champion are jitter and non-determinism, not the "
                                   "model: the Compare page shows them beside the challenger's.")
        runtimes = ui.runtime_picker(box, replica)
        trust = ui.trust_picker(box, model)
        start, stop = st.columns(2)
        if start.button("Start both servers", type="primary"):
            ui.start_servers_live(box, model, replica, runtimes, trust)
            ui.flash("Both servers started and answered their health check.")
            st.rerun()
        if stop.button("Stop servers", disabled=not box.servers):
            box.stop_servers()
            ui.flash("Both servers stopped.")
            st.rerun()

    if not box.servers:
        st.write("No model server is running.")
    else:
        ui.live_server_table(box)
        for role in list(box.servers):
            with st.expander(ui.escaped(f"{role}: log and controls")):
                st.code(box.server_log(role, 40) or "(empty)", language="text")
                left, right = st.columns(2)
                if left.button(ui.escaped(f"Restart {role}"), key=f"restart-{role}"):
                    box.restart_server(role)
                    ui.flash(f"The {role} server restarted and answers.")
                    st.rerun()
                if right.button(ui.escaped(f"Stop {role}"), key=f"stop-{role}"):
                    box.stop_server(role)
                    ui.flash(f"The {role} server stopped.")
                    st.rerun()
