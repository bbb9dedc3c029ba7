"""Every chart of a run (the report's, and the pages' own) rendered as a Vega-Lite spec and read
back: no legend lists a series the chart's data does not hold (no champion_replica when no
replica ran), and no axis title is longer than its axis can show unless the axis lets it run on
(titleLimit 0). Checked on the demo's shadow run, with its explanation."""

from __future__ import annotations

import pandas as pd
import pytest
from chart_rules import problems_of

from staging.report import charts
from staging.report.writer import report_charts

pytestmark = pytest.mark.servers
def test_every_chart_of_a_run_has_a_true_legend_and_whole_axis_titles(sandbox, explained_run):
    evidence = sandbox.evidence(explained_run)
    explanation = sandbox.explanation(explained_run)
    made = [(title, make()) for _, title, make in report_charts(evidence, None, explanation.as_dict())]
    pages = {"flips": lambda: charts.flip_heatmap(evidence.flips),
             "score gaps": lambda: charts.delta_histogram(evidence.score_gaps, "challenger score − champion score"),
             "drift over time": lambda: charts.drift_heatmap(evidence.drift_timeline),
             "latency over the replay": lambda: charts.latency_lines(evidence.latency_timeline),
             "prediction drift": lambda: charts.score_distributions(evidence.score_histograms)}
    made += [(title, make()) for title, make in pages.items()]
    distributions = sandbox.drift_distributions(explained_run, list(evidence.drift["feature"].head(3)))
    made += [(f"distribution of {feature}", charts.feature_distribution(frame, feature))
             for feature, frame in distributions.items()]
    titles = [title for title, _ in made]
    assert len(made) >= 12 and any("week by week" in t for t in titles), titles
    problems = [problem for title, chart in made for problem in problems_of(chart, title)]
    assert problems == []
    assert "champion_replica" not in str(charts.latency_histogram(evidence.latency_bins).to_dict()["encoding"])


@pytest.mark.parametrize("settings", [{"mode": "canary", "canary_steps": (20, 100), "canary_max_p95_ratio": 50.0,
                                       "canary_max_error_rate": 0.5},
                                      {"mode": "ab", "challenger_share": 0.3}], ids=["canary", "ab"])
def test_the_charts_of_canary_and_ab_runs_too(sandbox, finished_run, settings):
    from staging import TrafficSelection
    from staging.registry.scenarios import CREDIT
    from staging.replay import ReplaySettings

    if not sandbox.servers_match(CREDIT.model_name):
        sandbox.start_servers(CREDIT.model_name)
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=200),
                                  ReplaySettings(**settings))
    handle.wait()
    assert handle.error is None, handle.error
    evidence = sandbox.evidence(handle.run_id)
    made = [(title, make()) for _, title, make in report_charts(evidence)]
    assert made and [p for title, chart in made for p in problems_of(chart, title)] == []
    if settings["mode"] == "canary":
        steps = pd.DataFrame([dict(step) for step in evidence.manifest.summary.canary])
        assert problems_of(charts.canary_timeline(steps, 50.0), "canary timeline") == []
        assert any("canary's steps" in title for title, _ in made)
    else:  # the A/B run's own timeline: both arms in every window, drawn in the report too
        assert set(evidence.arm_windows["model"]) == {"champion", "challenger"}
        assert any("A/B arms" in title for title, _ in made)
    shares = charts.latency_histogram(evidence.latency_bins).to_dict()
    assert shares["encoding"]["y"]["field"] == "share"  # arms of different sizes compared as shares
