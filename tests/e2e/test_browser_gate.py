"""The gate's three verdicts, and Compare's "Why they differ", in a real browser (Debian's
Chromium, driven by Playwright), opened from links that name the model and the run: a run in
which the challenger failed every request is failed in the errors check's own words, a run the
evidence cannot decide is "not yet" with the labelled requests that would decide it, the
Capacity page shows a capacity run's conclusion, its hockey stick, CPU and memory, and its
spike, and Compare explains a disagreement in words and as a chart."""

import pytest
from support import all_errors_run, streamlit_app
from test_browser_demo import CHROMIUM, CHROMIUM_ARGS, SHOTS, _settled

sync_api = pytest.importorskip("playwright.sync_api")

PATIENT = "name = 'patient'\nmin_labelled = 250000\n"


@pytest.fixture(scope="module")
def gate_app(demo_home, sandbox, finished_run):
    failing = all_errors_run(sandbox, finished_run)
    with streamlit_app(demo_home.root, {"STAGING_BACKEND": "process"},
                       ("--server.headless", "true", "--server.address", "127.0.0.1",
                        "--browser.gatherUsageStats", "false")) as url:
        yield url, finished_run, failing


def _page_text(page, url: str, wait_for: str) -> str:
    page.goto(url)
    page.get_by_text(wait_for).first.wait_for(timeout=120_000)
    _settled(page)
    return page.inner_text("body")


def test_promote_fails_a_run_whose_challenger_answered_nothing_in_the_errors_checks_words(gate_app):
    url, _, failing = gate_app
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        text = _page_text(page, f"{url}/promote?model=credit-default&run={failing}", "Gate: failed")
        page.screenshot(path=SHOTS / "gate-all-errors.png", full_page=True)
        assert "failed more than 50% of requests" in text and "Failed: errors" in text
        assert "Traceback" not in text and "Something failed" not in text and "KeyError" not in text
        browser.close()


def test_promote_says_not_yet_with_the_labels_that_would_decide(gate_app):
    url, finished, _ = gate_app
    policy = SHOTS / "patient.toml"
    SHOTS.mkdir(exist_ok=True)
    policy.write_text(PATIENT)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        _page_text(page, f"{url}/promote?model=credit-default&run={finished}", "Policy: sandbox default")
        page.locator("input[type=file]").first.set_input_files(str(policy))
        # The default policy is "not yet" on this run too, so wait for the uploaded policy's own words.
        page.get_by_text("about 250,000 labelled requests").first.wait_for(timeout=120_000)
        _settled(page)
        page.screenshot(path=SHOTS / "gate-not-yet.png", full_page=True)
        text = page.inner_text("body")
        assert "about 250,000 labelled requests" in text and "Not yet:" in text
        assert "Gate: failed" not in text and "Traceback" not in text
        browser.close()


@pytest.fixture(scope="module")
def measured(demo_home):
    """A small capacity run of the demo pair on processes, kept under the home as the page reads it."""
    from staging import Sandbox
    from staging.capacity.ramp import RampSettings
    from staging.capacity.result import Prices
    from staging.capacity.run import CapacitySettings
    from staging.capacity.spike import SpikeSettings

    settings = CapacitySettings(ramp=RampSettings(start_rate=20, growth=2.0, max_rate=80, step_s=1.0, refine_steps=1,
                                                  min_requests=20), repeats=1, warmup_s=1.0,
                                spike=SpikeSettings(before_s=1, spike_s=1, after_s=2),
                                measure_harness=False, prices=Prices(0.05, 0.005, "USD"))
    with Sandbox(demo_home, backend="process") as box:
        return box.run_capacity(box.check_capacity("credit-default", None, settings))


def test_the_capacity_page_shows_the_conclusion_the_hockey_stick_and_the_spike(gate_app, measured):
    url, _, _ = gate_app
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        text = _page_text(page, f"{url}/capacity?model=credit-default", "Capacity side by side")
        page.wait_for_selector(".vega-embed", timeout=60_000)
        _settled(page)
        page.screenshot(path=SHOTS / "capacity.png", full_page=True)
        text = page.inner_text("body")
        assert measured.conclusion() in text
        assert "Measure both models' capacity" in text  # the form, for the next run
        assert page.locator(".vega-embed").count() >= 3  # the hockey stick, CPU and memory, the spike
        assert "Traceback" not in text and "Something failed" not in text
        browser.close()


def test_compare_opens_why_they_differ_with_a_disagreement_in_words_and_a_chart(gate_app, explained_run):
    url, _, _ = gate_app
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 4000})
        text = _page_text(page, f"{url}/compare?model=credit-default&run={explained_run}", "Why they differ")
        page.get_by_text("the challenger (answered").first.wait_for(timeout=120_000)
        _settled(page)
        page.get_by_text("Why they differ").first.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "why-they-differ.png", full_page=True)
        text = page.inner_text("body")
        assert "ranks the features" in text and "nDCG" in text and "A disagreement to explain" in text
        assert "; the champion (answered" in text and "Explain again, with other settings" in text
        assert "Traceback" not in text and "Something failed" not in text
        browser.close()
