"""Why they differ, against real MLflow scoring servers: the session's run explained through the
credit servers (stored, read by the gate, `gate --json` and the report), identical models give
nDCG 1.0 with shifts that hold 0, a cancelled explanation keeps its rows, and the bench's quick
mode meets both oracles (the logistic champion's exact SHAP values, the trees' ranking against
shap's exact explainer)."""

import json
import os
import subprocess
import sys

import numpy as np
from support import ROOT

from staging.explain.settings import ExplainSettings
from staging.replay.explain import PreparedExplanation


def test_the_run_is_explained_stored_and_read_by_the_gate_and_the_report(sandbox, explained_run, tmp_path):
    explanation = sandbox.explanation(explained_run)
    assert explanation.rows_explained == explanation.attributions["request_id"].nunique() > 0
    assert explanation.output_names == ("P(default = 1)",) and explanation.kinds["champion"] == "probability"
    comparison = explanation.comparison(0)
    assert 0 < comparison.ndcg <= 1 and comparison.ndcg_interval.low <= comparison.ndcg_interval.high
    assert "employment_type" in comparison.top("challenger")  # the demo's concept drift: insecure work got riskier
    assert explanation.requests_sent["champion"] >= explanation.rows_explained
    first = explanation.disagreement_ids()[0]
    words = explanation.row_sentence(first)
    assert words.startswith("the challenger (answered") and "; the champion (answered" in words
    verdict = sandbox.gate(sandbox.evidence(explained_run))
    check = next(c for c in verdict.checks if c.name == "explanation: feature ranking")
    assert check.numbers["ndcg"] == comparison.ndcg and verdict.as_dict()["explanation"]["disagreements"]
    files = sandbox.report(sandbox.evidence(explained_run), folder=tmp_path)
    html = files.html.read_text()
    assert "<h2>Why they differ</h2>" in html and "Why they differ on request" in html
    assert "could not be drawn" not in html


def test_identical_models_rank_alike_and_a_cancelled_explanation_keeps_its_rows(sandbox, explained_run):
    champion = sandbox.servers["champion"].endpoint.url
    folder = sandbox.store.folder(explained_run)
    same = {"url": champion, "backend": "process"}
    # on the probability scale the logistic model is not additive: alike only if the permutations are
    identical = PreparedExplanation(explained_run, folder, ExplainSettings(disagreements=15, others=15),
                                    {"champion": same, "challenger": same})
    try:
        sandbox.start_explanation(identical).wait(300)
        twin = sandbox.explanation(explained_run)
        comparison = twin.comparison(0)
        assert twin.status == "finished" and comparison.ndcg == 1.0
        values = {role: twin.attributions[twin.attributions["role"] == role][list(twin.features)].to_numpy()
                  for role in ("champion", "challenger")}
        assert np.array_equal(values["champion"], values["challenger"])
        assert ((comparison.table["shift_low"] <= 1e-12) & (comparison.table["shift_high"] >= -1e-12)).all()
        handle = sandbox.start_explanation(PreparedExplanation(explained_run, folder,
                                                               ExplainSettings(disagreements=400, others=400),
                                                               {"champion": same, "challenger": same}))
        while handle.progress[0] < 10 and not handle.done:
            handle.wait(0.2)
        handle.cancel()
        handle.wait(60)
        cancelled = sandbox.explanation(explained_run)
        assert cancelled.status == "cancelled" and 10 <= cancelled.rows_explained < 800
    finally:  # the session's run keeps its real explanation for the other tests
        sandbox.start_explanation(sandbox.check_explanation(explained_run, ExplainSettings(disagreements=40,
                                                                                           others=20))).wait(300)


def test_the_explain_bench_in_its_quick_mode_meets_both_oracles(demo_home):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "explain.py"), "--quick", "--home", str(demo_home.root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ["explain_500_rows_s", "linear_oracle_max_abs_error", "tree_ranking_ndcg_vs_shap", "extra_requests_per_row"]
    assert [key for key in keys if key not in figures] == []
    assert figures["linear_oracle_max_abs_error"] < 1e-6
    assert figures["tree_ranking_ndcg_vs_shap"] >= 0.95 and figures["extra_requests_per_row"] > 0
