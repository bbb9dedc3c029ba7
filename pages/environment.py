"""Environment: start and stop the two model servers, see their health and logs."""

import pandas as pd
import streamlit as st

from staging import ui

ui.page_header("Environment", "Each model runs as a real model server that speaks the MLflow scoring protocol.")

with ui.guard():
    box = ui.sandbox()
    model = ui.current_model()
    st.info(box.backend_notice)
    if model:
        refs = box.resolve_pair(model)
        st.write(f"**{model}**: champion v{refs['champion'].version}, challenger v{refs['challenger'].version}.")
        start, stop = st.columns(2)
        if start.button("Start both servers", type="primary"):
            with st.status("Starting champion and challenger in parallel…", expanded=True) as status:
                box.start_servers(model, progress=lambda role, message: st.write(f"**{role}**: {message}"))
                status.update(label="Both servers answer /ping", state="complete")
        if stop.button("Stop servers", disabled=not box.servers):
            box.stop_servers()
            ui.flash("Both servers stopped.")
            st.rerun()

    status_rows = box.server_status()
    if not status_rows:
        st.write("No model server is running.")
    else:
        st.dataframe(pd.DataFrame(status_rows).drop(columns=["log"]), hide_index=True)
        for role, server in box.servers.items():
            with st.expander(f"{role} log ({server.log_path.name})"):
                st.code(server.log_tail(40) or "(empty)", language="text")
