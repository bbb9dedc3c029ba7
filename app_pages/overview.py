"""Overview: what the sandbox does, the demo in one click to a verdict, the latest run, and the
registered models."""

import streamlit as st

from staging import SCENARIOS, ui

ui.page_header("Staging sandbox", "Judge a new model on last week's real traffic, side by side with the one in "
                                  "production, before anyone promotes it.")

with ui.guard():
    box = ui.sandbox()
    latest = ui.latest_run(box, ui.current_model())
    if latest is not None and latest.status in ("finished", "aborted", "degraded"):  # every run that reached a verdict
        ui.verdict_card(box, latest.run_id)
    if latest is not None and not latest.running:
        ui.latest_run_line(box, latest)

    ui.watcher_series(box, ui.current_model())

    st.subheader("The demo")
    st.write(ui.escaped(SCENARIOS["credit"].story))
    left, right = st.columns(2)
    if left.button("Run the demo", icon=":material/play_arrow:", type="primary",
                   help=f"Registers the demo models, starts both servers, replays {ui.DEMO_REQUESTS:,} recorded requests "
                        "and shows the verdict. About half a minute on an idle machine; a few minutes the first time "
                        "on containers or on a busy one. Each step is said as it happens."):
        ui.run_demo(box)
    if right.button("Load the demo models only", help="Train and register the models; start nothing."):
        loaded = box.load_demo()
        ui.flash("Demo models ready: " + ", ".join(
            f"{m.champion.name} (champion v{m.champion.version}, challenger v{m.challenger.version})" for m in loaded))
        st.rerun()
    st.caption(ui.escaped(box.backend_notice))
    if box.swept:
        st.caption(ui.escaped(f"Stopped {len(box.swept)} model server(s) left behind by an earlier app: "
                              f"{', '.join(box.swept)}."))

    st.subheader("Registered models")
    models = ui.registered_models(box)
    if models.empty:
        st.write("The registry is empty. Run the demo, or register a model with aliases `champion` and `challenger`.")
    else:
        st.dataframe(models, hide_index=True)
    if latest is None:
        st.markdown("**Next steps:** start the servers on **Environment**, replay traffic on **Replay**, read the "
                    "evidence on **Compare** and **Drift**, then sign off on **Promote**.")
