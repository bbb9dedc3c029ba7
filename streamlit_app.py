"""Entry point of the Streamlit app: page setup, navigation, then the sandbox and the sidebar.

The navigation is declared before the sandbox is imported (a few seconds, longer on a busy
machine): a deep link or a refresh finds its page and the sidebar's titles at once, with a line
saying what is loading, never a blank page or Streamlit's list of files. The page files are named
here as literals; `tests/unit/test_architecture.py` holds them equal to `staging.ui.PAGES`.
"""

import streamlit as st

st.set_page_config(page_title="Staging sandbox", page_icon=":material/science:", layout="wide")

navigation = st.navigation(
    {
        "Set up": [
            st.Page("app_pages/overview.py", title="Overview", icon=":material/home:", default=True),
            st.Page("app_pages/environment.py", title="Environment", icon=":material/dns:"),
            st.Page("app_pages/replay.py", title="Replay", icon=":material/play_circle:"),
        ],
        "Evidence": [
            st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
            st.Page("app_pages/drift.py", title="Drift", icon=":material/waves:"),
            st.Page("app_pages/capacity.py", title="Capacity", icon=":material/speed:"),
        ],
        "Decide": [st.Page("app_pages/promote.py", title="Promote", icon=":material/task_alt:"),
                   st.Page("app_pages/history.py", title="History", icon=":material/history:")],
    }
)
loading = st.empty()
loading.caption("Opening the sandbox: its registry, its runs and where the models run (a few seconds the first "
                "time after the app starts)…")
from staging import ui  # noqa: E402 - the heavy import, once the page has its navigation and a word to show

with ui.guard():
    ui.model_picker(ui.sandbox())
loading.empty()
navigation.run()
