"""User text is shown, never interpreted: a real Chromium opens every page of an app whose
registry, runs and audit log hold hostile strings (a model named with HTML and Markdown, a
reviewer and a reason that are Markdown images, links and HTML, traffic values that are HTML),
and finds no element that the text created, no request it caused and no script it ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from support import ROOT, streamlit_app

from staging import ReplaySettings, Sandbox, SandboxHome, TrafficSelection
from staging.registry.client import configure_mlflow

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts"
if not Path(CHROMIUM).exists():
    if os.environ.get("STAGING_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing but STAGING_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

# Each would make an element, fetch something or run a script if it were rendered as Markdown or HTML.
MODEL = "<img src=x onerror=window.HOSTILE=1> **bold-model** <b>b-model"  # no "/" or ":" (MLflow)
REVIEWER = "![p](http://127.0.0.1:9/track-reviewer.png) **bold-reviewer**"
REASON = ("[click](javascript:window.HOSTILE=2) <script>window.HOSTILE=3</script> "
          "<img src=http://127.0.0.1:9/track-reason.png> _em-reason_ :red[red-reason] bold-mail@example.org")
VALUE = "<img src=http://127.0.0.1:9/track-value.png>"
URL = "http://127.0.0.1:1/**bold-url** ![u](http://127.0.0.1:9/track-url.png)"
COLUMN = "<img src=x onerror=window.HOSTILE=4> **bold-column**"
FILE = "![f](track-file.png) **bold-file**.csv"
PAGES = ("", "environment", "replay", "compare", "drift", "promote", "history")
CREATED = ("img[src*='track'], img[src='x'], img[onerror], a[href^='javascript'], a[href*='track'], a[href*='bold'], "
           "a[href^='mailto'], script:not([src]):is(:not([type])), strong, b, em")


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The demo home with a replay whose traffic holds HTML values, a promotion signed with a
    hostile reviewer and reason, and a model whose name is HTML and Markdown; the app on it."""
    home = SandboxHome.from_env(tmp_path_factory.mktemp("hostile-home"))
    traffic = tmp_path_factory.mktemp("traffic") / "traffic.csv"
    with Sandbox(home, backend="process") as box:
        box.load_demo()
        scenario = box.scenario_for("credit-default")
        frame = pd.read_parquet(scenario.file("traffic")).head(200)
        frame.loc[:20, "region"] = VALUE
        frame.to_csv(traffic, index=False)
        box.start_servers("credit-default")
        handle = box.begin_replay("credit-default", traffic, TrafficSelection(), ReplaySettings(concurrency=2))
        handle.wait()
        assert handle.progress.status == "finished", handle.progress.reason
        box.promote(box.evidence(handle.run_id), REVIEWER, REASON, True, override=True)
    configure_mlflow(home)
    client = mlflow.MlflowClient()
    client.create_registered_model(MODEL)
    for alias, version in (("champion", "1"), ("challenger", "2")):
        copied = client.copy_model_version(f"models:/credit-default/{version}", MODEL)
        client.set_registered_model_alias(MODEL, alias, copied.version)
    with streamlit_app(home.root, {"STAGING_BACKEND": "process"}) as url:
        yield url


def _settle(page) -> None:
    page.wait_for_timeout(800)
    deadline = time.monotonic() + 60
    while page.locator("[data-stale='true'], [data-testid='stSpinner']").count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.wait_for_timeout(500)


def _choose_model(page, name: str) -> None:
    picker = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']")
    picker.click()
    page.get_by_role("option", name=name, exact=True).click()
    _settle(page)


def _inert(page, where: str) -> str:
    """The page's text, after asserting that no element, script or value came from user text."""
    created = page.locator(f"[data-testid='stMain'] :is({CREATED}), [data-testid='stSidebar'] :is({CREATED})")
    texts = [created.nth(i).evaluate("e => e.outerHTML")[:160] for i in range(created.count())]
    made = [t for t in texts if any(w in t for w in ("track", "onerror", "javascript", "bold-", "b-model",
                                                       "em-reason", "HOSTILE"))]
    assert not made, f"{where}: elements made by user text: {made}"
    assert page.evaluate("() => window.HOSTILE") is None, where
    assert page.get_by_text("Traceback").count() == 0, where
    return page.locator("body").inner_text()


@pytest.fixture()
def hostile_upload(tmp_path) -> Path:
    """Traffic for the credit model with a hostile file name, a missing column and a hostile one."""
    frame = pd.read_parquet(ROOT / "sample_data" / "credit_traffic.parquet").head(30).drop(columns=["age"])
    frame[COLUMN] = 1
    path = tmp_path / FILE
    frame.to_csv(path, index=False)
    return path


def test_hostile_text_creates_no_element_request_or_script_on_any_page(hostile_app, hostile_upload):
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        seen: dict[str, str] = {}
        for model in (MODEL, "credit-default"):
            page.goto(hostile_app)
            _settle(page)
            _choose_model(page, model)
            for name in PAGES:
                if name:
                    page.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']").click()
                    _settle(page)
                    if name == "compare":
                        page.wait_for_timeout(1500)
                where = f"{'credit' if model == 'credit-default' else 'hostile'}-{name or 'overview'}"
                page.screenshot(path=SHOTS / f"hostile-{where}.png", full_page=True)
                seen[where] = _inert(page, where)
        # what a user types or uploads comes back in messages: shown as typed there too
        page.locator("[data-testid='stSidebarNav'] a[href$='/environment']").click()
        _settle(page)
        page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").first.click()
        page.get_by_role("option", name="endpoint", exact=True).click()
        _settle(page)
        page.get_by_label("Champion URL").fill(URL)
        page.get_by_label("Champion URL").press("Enter")
        _settle(page)
        page.get_by_text("has more after its host").wait_for(timeout=30_000)
        page.screenshot(path=SHOTS / "hostile-endpoint-url.png", full_page=True)
        seen["endpoint-url"] = _inert(page, "endpoint-url")
        page.locator("[data-testid='stSidebarNav'] a[href$='/replay']").click()
        _settle(page)
        page.get_by_text("Upload a file").click()
        _settle(page)
        page.locator("input[type=file]").first.set_input_files(str(hostile_upload))
        page.get_by_text("does not match the model signature").wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=SHOTS / "hostile-upload.png", full_page=True)
        seen["upload"] = _inert(page, "upload")
        assert not [url for url in fetched if "track" in url or ":9/" in url], fetched
        browser.close()
    shown = "\n".join(seen.values())
    # the strings are there, as typed: shown, not interpreted
    assert "**bold-model**" in shown and "<b>b-model" in shown
    assert REVIEWER in seen["credit-history"] or "**bold-reviewer**" in seen["credit-history"]
    assert "_em-reason_" in seen["credit-history"]
    assert "**bold-url**" in seen["endpoint-url"] and "**bold-column**" in seen["upload"]
