"""Entry point of the Streamlit app: page setup, the sidebar, and navigation."""

import streamlit as st

from staging import ui

st.set_page_config(page_title="Staging sandbox", page_icon="🧪", layout="wide")

navigation = st.navigation(
    {
        "Set up": [
            st.Page(ui.PAGES["overview"], title="Overview", icon="🏠", default=True),
            st.Page(ui.PAGES["environment"], title="Environment", icon="🖥️"),
            st.Page(ui.PAGES["replay"], title="Replay", icon="▶️"),
        ],
        "Evidence": [
            st.Page(ui.PAGES["compare"], title="Compare", icon="⚖️"),
            st.Page(ui.PAGES["drift"], title="Drift", icon="🌊"),
        ],
        "Decide": [st.Page(ui.PAGES["promote"], title="Promote", icon="✅")],
    }
)
with ui.guard():
    ui.model_picker(ui.sandbox())
navigation.run()
