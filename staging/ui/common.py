"""Streamlit helpers shared by every page: the process-wide `Sandbox`, session-state keys,
the model picker, page headers and one-rerun notices, and `guard`, which turns any failure
into a message on the page (what went wrong and what to do), never a traceback.

The package `staging.ui` is the only part of `staging` that imports streamlit.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from ..errors import StagingError
from ..home import SandboxHome
from ..sandbox import Sandbox
from .display import escaped

log = logging.getLogger("staging.ui")


MODEL_KEY = "staging.model_name"


RUN_KEY = "staging.run_id"


NOTICE_KEY = "staging.notice"


PAGES = {
    "overview": "app_pages/overview.py",
    "environment": "app_pages/environment.py",
    "replay": "app_pages/replay.py",
    "compare": "app_pages/compare.py",
    "drift": "app_pages/drift.py",
    "capacity": "app_pages/capacity.py",
    "promote": "app_pages/promote.py",
    "history": "app_pages/history.py",
}


@st.cache_resource(show_spinner="Opening the sandbox…")
def _sandbox(home: str) -> Sandbox:
    sandbox = Sandbox(SandboxHome.from_env(home))
    atexit.register(sandbox.close)
    return sandbox


def sandbox() -> Sandbox:
    """The process-wide sandbox (its servers and replay outlive page reruns)."""
    return _sandbox(str(SandboxHome.from_env().root))


@contextmanager
def guard() -> Iterator[None]:
    """Show any failure as a message with its remedy; the rest of the page still renders."""
    try:
        yield
    except StagingError as exc:
        show_error(exc)
    except Exception as exc:
        log.exception("unexpected failure on a page")
        st.error(escaped(f"Something failed that the sandbox did not expect: {type(exc).__name__}: {exc}. "
                 "The app's log has the details. Check the registry's aliases before trying again, "
                 "and report it if it happens again."))


def show_error(exc: StagingError) -> None:
    st.error(escaped(exc.message))
    if exc.hint:
        st.info(escaped(exc.hint))
    if exc.detail:
        with st.expander("Log tail", expanded=True):
            st.code(exc.detail, language="text")


def flash(message: str, kind: str = "success") -> None:
    """A message that survives one rerun (for buttons that rerun or switch page)."""
    st.session_state[NOTICE_KEY] = (kind, message)


def show_flash() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        getattr(st, notice[0])(escaped(notice[1]))


def model_picker(box: Sandbox) -> str | None:
    """Sidebar choice of registered model; remembered across pages."""
    names = box.model_names()
    if not names:
        st.sidebar.info("No registered model yet: load the demo on the Overview page.")
        return None
    current = linked("model", names) or st.session_state.get(MODEL_KEY)
    index = names.index(current) if current in names else 0
    choice = st.sidebar.selectbox("Registered model", names, index=index)
    st.session_state[MODEL_KEY] = choice
    keep_link("model", choice)
    return choice


def linked(name: str, allowed: list[str]) -> str | None:
    """A value the page's address names (`?model=…&run=…`), once: a link someone shared opens on
    what it names, and the pickers are free again after."""
    value = st.query_params.get(name)
    seen = f"staging.link.{name}"
    if value is None or value not in allowed or st.session_state.get(seen) == value:
        return None
    st.session_state[seen] = value
    return value


def keep_link(name: str, value: str | None) -> None:
    """The current choice in the page's address, so that copying it shares this view."""
    if value is None:
        return
    if st.query_params.get(name) != value:
        st.query_params[name] = value
    st.session_state[f"staging.link.{name}"] = value


def page_header(title: str, caption: str) -> None:
    st.title(title)  # literals at every call (held by test_architecture): the code's own Markdown
    st.caption(caption)
    show_flash()


def current_model() -> str | None:
    """The model chosen in the sidebar (the entry point draws the picker before each page)."""
    return st.session_state.get(MODEL_KEY)


def percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


def go(page: str) -> None:
    st.switch_page(PAGES[page])
