"""A user's own models in a real browser (Debian's Chromium, driven by Playwright): the Compare
and Drift pages of a three-class classifier and of a regression, opened from links that name
the model and the run, show their own figures and never a traceback."""

import json
import os
import subprocess
import sys

import pytest
from support import ROOT, streamlit_app
from test_browser_demo import CHROMIUM, CHROMIUM_ARGS, SHOTS, _settled

sync_api = pytest.importorskip("playwright.sync_api")


def replayed(home, pair) -> str:
    out = subprocess.run([sys.executable, "-m", "staging", "replay", "--home", str(home.root), "--backend", "process",
                          "--model", pair.model, "--traffic", str(pair.traffic), "--labels", str(pair.labels),
                          "--reference", str(pair.reference), "--requests", "300", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)["run_id"]


@pytest.fixture(scope="module")
def zoo_app(zoo):
    home, pairs = zoo
    runs = {name: replayed(home, pairs[name]) for name in ("multiclass", "regression")}
    with streamlit_app(home.root, {"STAGING_BACKEND": "process"},
                       ("--server.headless", "true", "--server.address", "127.0.0.1",
                        "--browser.gatherUsageStats", "false")) as url:
        yield url, pairs, runs


@pytest.mark.parametrize("name, words", [
    ("multiclass", ("A classifier of 3 classes (bird, cat, dog)", "f1_macro", "confusion matrix")),
    ("regression", ("A regression", "residuals", "on the dashed line they agree")),
])
def test_compare_and_drift_of_a_users_own_model(zoo_app, name, words):
    url, pairs, runs = zoo_app
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 3000})
        page.goto(f"{url}/compare?model={pairs[name].model}&run={runs[name]}")
        page.get_by_text("The challenger agrees with the champion on").wait_for(timeout=120_000)
        _settled(page)
        page.wait_for_timeout(1500)  # let the charts draw
        page.screenshot(path=SHOTS / f"zoo-{name}-compare.png", full_page=True)
        text = page.inner_text("body")
        for word in words:
            assert word.lower() in text.lower(), word
        assert "Traceback" not in text and "Something failed" not in text
        assert page.locator("canvas, svg").count() >= 3  # the charts drew
        page.get_by_role("link", name="Drift").click()
        page.get_by_text("Features drifted").wait_for(timeout=120_000)
        _settled(page)
        page.wait_for_timeout(1000)
        page.screenshot(path=SHOTS / f"zoo-{name}-drift.png", full_page=True)
        text = page.inner_text("body")
        assert "Traceback" not in text and "Something failed" not in text
        assert f"model={pairs[name].model}" in page.url  # the address still names the model it shows
        browser.close()
