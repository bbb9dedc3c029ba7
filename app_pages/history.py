"""History: who was champion when, and why, from the verified audit chain."""

import streamlit as st

from staging import ui

ui.page_header("History", "Who was champion when, and why: read from the audit chain, checked against the "
                          "registry's aliases.")

with ui.guard():
    box = ui.sandbox()
    model = ui.current_model()
    ui.chain_state(box.verify_audit())
    if model:
        periods, mismatch = box.history(model)
        if mismatch:
            st.warning(ui.escaped(mismatch))
        if not periods:
            st.info("No promotion or rollback of this model yet: its champion has never been moved here.")
        else:
            ui.periods_table(periods)
            ui.as_of(periods)
            ui.entry_links(periods)
