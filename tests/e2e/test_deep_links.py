"""Every page opened by its address in a fresh browser session, after the app restarts: its title
and its content (the sidebar's model picker, drawn once the sandbox is open) appear, and neither a
blank page nor Streamlit's raw list of files ever shows (the navigation is declared before the
sandbox is imported, see streamlit_app.py)."""

from __future__ import annotations

import pytest
from support import streamlit_app
from test_browser_demo import CHROMIUM, CHROMIUM_ARGS, _settled

sync_api = pytest.importorskip("playwright.sync_api")

TITLES = {"": "Staging sandbox", "environment": "Environment", "replay": "Replay", "compare": "Compare",
          "drift": "Drift", "capacity": "Capacity", "promote": "Promote", "history": "History"}
RAW_LIST = ("streamlit app", "app pages")  # what Streamlit's own page list would read


def test_every_page_opens_by_its_address_after_a_restart(demo_home, finished_run):
    options = ("--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false")
    with streamlit_app(demo_home.root, {"STAGING_BACKEND": "process"}, options) as url:
        sync_api_page_loads(url, [""])  # the app has run once
    with streamlit_app(demo_home.root, {"STAGING_BACKEND": "process"}, options) as url:  # and started again
        sync_api_page_loads(url, list(TITLES))


def sync_api_page_loads(url: str, paths: list[str]) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for path in paths:
                context = browser.new_context(viewport={"width": 900, "height": 900})  # a fresh session each
                page = context.new_page()
                page.goto(f"{url}/{path}")
                page.get_by_role("heading", name=TITLES[path]).first.wait_for(timeout=120_000)
                page.get_by_text("Registered model").first.wait_for(timeout=120_000)
                _settled(page)
                text = page.inner_text("body").lower()
                assert not any(raw in text for raw in RAW_LIST), (path, text[:500])
                assert "opening the sandbox" not in text and "something failed" not in text, (path, text[:800])
                context.close()
        finally:
            browser.close()
