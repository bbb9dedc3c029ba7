"""Replay: choose recorded traffic, check it against the model, replay it in shadow, canary or A/B mode."""

import streamlit as st

from staging import ui

ui.page_header("Replay", "Recorded requests sent to the champion and the challenger: in shadow mode both answer every "
                         "request and the champion's answer is the one served.")

with ui.guard():
    box = ui.sandbox()
    model = ui.current_model()
    if box.replay is not None:
        ui.replay_progress(box)
    if model:
        form = ui.traffic_form(box, model)
        if form is not None:
            settings = ui.replay_settings(form.columns)
            running = box.replay is not None and not box.replay.done
            if st.button("Start replay", type="primary", disabled=running or not box.servers_match(model),
                         help=None if box.servers_match(model) else "Start the servers on the Environment page."):
                box.begin_replay(box.prepare_replay(model, form.path, form.selection, settings, form.labels_path,
                                                    form.reference_path, label_column=form.label_column,
                                                    validated=form.validated, task=form.task))
                st.rerun()
            if not box.servers_match(model):
                st.warning("The model servers are not running for this model's current versions. "
                           "Start them on the Environment page.")
