"""Entry point of the Streamlit app: page setup, the sidebar, and navigation."""

import streamlit as st

from staging import ui

st.set_page_config(page_title="Staging sandbox", page_icon=":material/science:", layout="wide")

navigation = st.navigation(
    {
        "Set up": [
            st.Page(ui.PAGES["overview"], title="Overview", icon=":material/home:", default=True),
            st.Page(ui.PAGES["environment"], title="Environment", icon=":material/dns:"),
            st.Page(ui.PAGES["replay"], title="Replay", icon=":material/play_circle:"),
        ],
        "Evidence": [
            st.Page(ui.PAGES["compare"], title="Compare", icon=":material/compare_arrows:"),
            st.Page(ui.PAGES["drift"], title="Drift", icon=":material/waves:"),
            st.Page(ui.PAGES["capacity"], title="Capacity", icon=":material/speed:"),
        ],
        "Decide": [st.Page(ui.PAGES["promote"], title="Promote", icon=":material/task_alt:"),
                   st.Page(ui.PAGES["history"], title="History", icon=":material/history:")],
    }
)
with ui.guard():
    ui.model_picker(ui.sandbox())
navigation.run()
