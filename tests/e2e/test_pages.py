"""Every page through Streamlit's AppTest: it renders, shows its key elements, never a traceback."""

import re

import pytest
from streamlit.testing.v1 import AppTest
from support import ROOT, all_errors_run

from staging.ui import PAGES, RUN_KEY

APP = str(ROOT / "streamlit_app.py")


@pytest.fixture
def app(sandbox, finished_run, monkeypatch):
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["staging.model_name"] = "credit-default"
    at.session_state[RUN_KEY] = finished_run  # not whichever run another test made last
    return at.run()


def _no_failure(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_overview_lists_models_and_the_demo_button(app):
    _no_failure(app)
    assert app.title[0].value == "Staging sandbox"
    assert "Run the demo" in [b.label for b in app.button]
    models = app.dataframe[0].value
    assert set(models["model"]) == {"credit-default", "delivery-time"}


@pytest.mark.parametrize("page, title", [("environment", "Environment"), ("replay", "Replay"),
                                         ("compare", "Compare"), ("drift", "Drift"), ("promote", "Promote")])
def test_every_page_renders(app, page, title):
    app.switch_page(PAGES[page]).run()
    _no_failure(app)
    assert app.title[0].value == title


def test_environment_starts_shows_and_stops_both_servers(app):
    app.switch_page(PAGES["environment"]).run()
    buttons = {b.label: b for b in app.button}
    buttons["Start both servers"].click().run()
    _no_failure(app)
    table = app.dataframe[0].value
    assert set(table["role"]) == {"champion", "challenger"} and table["healthy"].all()
    assert len(app.expander) == 2  # one log per server
    {b.label: b for b in app.button}["Stop servers"].click().run()
    _no_failure(app)
    assert "No model server is running." in [m.value for m in app.markdown]


def test_environment_warns_when_the_servers_serve_another_model(app):
    app.switch_page(PAGES["environment"]).run()
    {b.label: b for b in app.button}["Start both servers"].click().run()  # credit-default's servers
    app.session_state["staging.model_name"] = "delivery-time"
    app.run()
    _no_failure(app)
    warnings = " ".join(w.value for w in app.warning)
    assert "serve credit" in warnings and "not the versions delivery" in warnings
    assert "delivery-time: champion v1, challenger v2." in [t.value for t in app.text]
    {b.label: b for b in app.button}["Stop servers"].click().run()


def test_compare_shows_agreement_quality_and_latency(app):
    app.switch_page(PAGES["compare"]).run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Agreement"].endswith("%") and metrics["Requests compared"] == "400"
    text = " ".join(m.value for m in app.markdown)
    assert "The challenger agrees with the champion on" in text
    assert any("95% of the challenger's answers" in c.value for c in app.caption)
    assert any("CPU (in cores) and memory, second by second" in c.value for c in app.caption)  # recorded with the run
    assert "The two versions" in [h.value for h in app.subheader]  # as the registry and training runs say
    versions = next(f.value for f in app.dataframe if {"kind", "champion", "challenger", "differs"} <= set(f.value))
    algorithm = versions[(versions["kind"] == "param") & (versions["name"] == "algorithm")].iloc[0]
    assert algorithm["differs"] == "yes" and algorithm["champion"] != algorithm["challenger"]
    assert "train_accuracy" in set(versions.loc[versions["kind"] == "metric", "name"])


def test_drift_names_drifted_features(app):
    app.switch_page(PAGES["drift"]).run()
    assert {m.label for m in app.metric} == {"Features drifted", "Dataset drift"}
    assert "features look different from the training data" in " ".join(m.value for m in app.markdown)
    assert any("Where the sandbox's verdict and Evidently's differ, and why" in _as_shown(i.value) for i in app.info)
    assert "Prediction drift" in [s.value for s in app.subheader]
    assert "Training reference and replayed traffic, drifted inputs first" in [s.value for s in app.subheader]
    assert {"champion", "challenger"} <= set(app.dataframe[-1].value["model"])


def test_promote_shows_the_gate_and_refuses_without_a_reviewer(app):
    app.switch_page(PAGES["promote"]).run()
    assert any(_as_shown(s.value).startswith("Gate:") for s in app.subheader)
    app.checkbox[-1].check()
    app.button[0].click().run()  # the form's submit button, no reviewer given
    assert not app.exception
    assert any("sign-off is missing: reviewer, reason" in _as_shown(e.value) for e in app.error)


def _as_shown(markdown: str) -> str:
    """An element's text as the browser shows it: Markdown's backslash escapes and the invisible
    word joiners that stop autolinks removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def test_replay_page_reports_quarantined_rows(app):
    app.switch_page(PAGES["replay"]).run()
    _no_failure(app)
    assert any("18 quarantined" in w.value for w in app.warning)


def test_compare_states_the_accuracy_difference_with_its_uncertainty(app):
    app.switch_page(PAGES["compare"]).run()
    text = " ".join(m.value for m in app.markdown)
    assert "Challenger accuracy minus champion accuracy" in text and "95% CI" in text
    assert "McNemar's exact test gives p =" in text and "Cohen's kappa" in text


def test_drift_page_offers_a_per_column_choice(app):
    app.switch_page(PAGES["drift"]).run()
    assert "Choose the test or threshold of a column" in [e.label for e in app.expander]


def test_a_chosen_test_and_threshold_change_the_verdict(sandbox, finished_run):
    default = sandbox.drift_table(finished_run, {}).set_index("feature")
    chosen = sandbox.drift_table(finished_run, {"age": (None, 5.0), "region": ("psi", None)}).set_index("feature")
    assert default.loc["age", "drifted"] and not chosen.loc["age", "drifted"]  # a threshold of 5 is never reached
    assert chosen.loc["age", "threshold"] == 5.0 and chosen.loc["age", "test"] == default.loc["age", "test"]
    assert chosen.loc["region", "test"] == "psi" and chosen.loc["region", "score"] == default.loc["region", "psi"]


def test_replay_page_offers_modes_and_timings_and_explains_bad_settings(app):
    app.switch_page(PAGES["replay"]).run()
    mode = next(r for r in app.radio if r.label == "Mode")
    mode.set_value("canary").run()
    _no_failure(app)
    assert any(t.label.startswith("Challenger share at each step") for t in app.text_input)
    steps = next(t for t in app.text_input if t.label.startswith("Challenger share at each step"))
    steps.set_value("5, half, 100").run()
    assert any("not a list of whole percentages" in e.value for e in app.error) and not app.exception
    mode = next(r for r in app.radio if r.label == "Mode")
    mode.set_value("ab").run()
    _no_failure(app)
    key = next(s for s in app.selectbox if s.label.startswith("Split key"))
    assert "region" in key.options and "request id" in key.options
    timing = next(r for r in app.radio if r.label == "Timing")
    timing.set_value("rate").run()
    _no_failure(app)
    assert any(n.label == "Requests per second" for n in app.number_input)
    percent = next(n for n in app.number_input if n.label == "Keep this percent of requests")
    percent.set_value(10.0).run()
    _no_failure(app)


RAW = __import__("re").compile(r"(?<![\w-])(nan|NaN|None|inf|-inf|nanx)(?![\w-])")  # not a user's "NaN-ish"


def _all_text(at) -> list[str]:
    """Everything a person reads on the page: titles, sentences, alerts, metrics and table cells."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success"):
        texts += [str(e.value) for e in getattr(at, kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    for frame in at.dataframe:
        value = frame.value
        texts += [str(c) for c in value.columns] + [str(v) for v in value.astype(str).to_numpy().ravel()]
    return texts


@pytest.fixture(scope="module")
def runs_of_each_kind(sandbox, finished_run):
    from staging import ReplaySettings, TrafficSelection
    from staging.registry.scenarios import CREDIT

    def replay(settings, requests):
        handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(requests), settings)
        handle.wait()
        assert handle.error is None, handle.error
        return handle.run_id

    return {"normal": finished_run,
            "canary": replay(ReplaySettings(mode="canary", canary_steps=(20, 100), canary_min_answers=5), 80),
            "ab": replay(ReplaySettings(mode="ab", challenger_share=0.3), 80),
            "all errors": all_errors_run(sandbox, finished_run),
            "30 requests": replay(ReplaySettings(), 30)}


@pytest.mark.parametrize("kind", ["normal", "canary", "ab", "all errors", "30 requests"])
def test_no_page_shows_a_raw_nan_none_or_inf(runs_of_each_kind, kind, monkeypatch):
    """What a stakeholder reads has words and units: never nan, None, NaN or inf."""
    monkeypatch.chdir(ROOT)
    for page in ("overview", "compare", "drift", "promote", "history", "replay"):
        at = AppTest.from_file(APP, default_timeout=300)
        at.session_state["staging.model_name"] = "credit-default"
        at.session_state[RUN_KEY] = runs_of_each_kind[kind]
        at.run()
        if page != "overview":
            at.switch_page(PAGES[page]).run()
        assert not at.exception, (kind, page, [e.value for e in at.exception])
        texts = _all_text(at)
        raw = [t for t in texts if RAW.search(t)]
        assert not raw, (kind, page, raw[:5])
        if kind == "ab" and page in ("overview", "compare"):  # its own card: the split and the arms over time
            assert any("A/B run split by the request id" in t and "30% was asked for" in t for t in texts), page
