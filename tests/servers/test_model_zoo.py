"""Models a team registers, none of them the demo's (tests/zoo.py): each pair goes from replay to
gate to report to the Compare, Drift and Promote pages on processes, with no exit 3 and no page
error, and every figure equals scikit-learn's on the answers the run stored."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from chart_rules import problems_of
from sklearn import metrics
from streamlit.testing.v1 import AppTest
from support import ROOT

from staging.evidence import stored_evidence
from staging.report.writer import report_charts
from staging.runs import RunStore
from staging.ui import PAGES, RUN_KEY

REQUESTS = "300"


def cli(home, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "staging", *args, "--home", str(home.root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def replay(home, pair, *extra, labels=None):
    return cli(home, "replay", "--backend", "process", "--model", pair.model, "--traffic", str(pair.traffic),
               "--labels", str(labels or pair.labels), "--reference", str(pair.reference), "--requests", REQUESTS,
               "--json", *extra)


ESTIMATED = ("multiclass", "text")  # half the labels are late: the rest are estimated
# why they differ, through the servers: every class's probability; a vote where the models answer labels only
EXPLAINED = {"multiclass": ("probability", 3), "boosting": ("vote", 1)}


def gate(home, pair, run_id, report: Path):
    out = cli(home, "gate", "--model", pair.model, "--run", run_id, "--report", str(report), "--json")
    assert out.returncode in (0, 1, 5), out.stderr[-2000:]  # passed, failed or not yet: never bad input or a fault
    return json.loads(out.stdout)


def stored_answers(run_folder: str, pair, labels_path=None) -> pd.DataFrame:
    """The run's own answers, both models on the requests both answered, with the late labels."""
    results = pd.read_parquet(Path(run_folder) / "results.parquet")
    ok = results[results["status"].eq(200) & results["error"].fillna("").eq("")]
    wide = ok.pivot_table(index="request_id", columns="target", values=["prediction", "probabilities"],
                          aggfunc="first").dropna()
    wide.columns = [f"{role}_{field}" for field, role in wide.columns]
    labels = pd.read_csv(labels_path or pair.labels).set_index("request_id")
    return wide.join(labels, how="inner")


def class_text(values) -> np.ndarray:
    return np.array([str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values])


def probability_matrix(texts, classes):
    """Independent of the sandbox: sklearn's classes_ are sorted, so a list answer's column i is
    the i-th class; a single score is the positive (last) class's probability."""
    rows = []
    for text in texts:
        answer = json.loads(text)
        if "*" in answer:
            rows.append([1 - answer["*"], answer["*"]])
        else:
            rows.append([answer.get(str(i), answer.get(c, 0.0)) for i, c in enumerate(classes)])
    return np.array(rows, float)


def check_against_sklearn(summary, gate_summary, pair, labels_path=None):
    answers = stored_answers(summary["run_folder"], pair, labels_path)
    quality = {row["model"]: row for row in gate_summary["quality"]["per_model"]}
    truth = class_text(answers[pair.target]) if pair.task == "classification" else answers[pair.target].to_numpy(float)
    checked = []
    for role in ("champion", "challenger"):
        ours = quality[role]
        if pair.task == "regression":
            predicted = answers[f"{role}_prediction"].astype(float).to_numpy()
            for name, value in (("mae", metrics.mean_absolute_error(truth, predicted)),
                                ("rmse", metrics.root_mean_squared_error(truth, predicted)),
                                ("r2", metrics.r2_score(truth, predicted))):
                assert ours[name] == pytest.approx(value, rel=1e-9), (role, name)
                checked.append(name)
            assert "accuracy" not in ours
            continue
        classes = sorted(set(truth))
        texts = answers[f"{role}_probabilities"].fillna("")
        has_scores = texts.str.len().gt(0).all()
        if has_scores:
            proba = probability_matrix(texts, classes)
            predicted = np.array(classes)[proba.argmax(axis=1)] if not pair.model.endswith("custom") else \
                class_text(answers[f"{role}_prediction"])
        else:
            predicted = class_text(answers[f"{role}_prediction"])
        assert ours["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted)), role
        for average in ("macro", "weighted"):
            for name, func in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                               ("f1", metrics.f1_score)):
                expected = func(truth, predicted, average=average, zero_division=0)
                assert ours[f"{name}_{average}"] == pytest.approx(expected), (role, name, average)
                checked.append(f"{name}_{average}")
        if len(classes) == 2:
            positive = classes[-1]
            assert ours["f1"] == pytest.approx(metrics.f1_score(truth, predicted, pos_label=positive))
            checked += ["precision", "recall", "f1"]
        if not has_scores:
            assert ours["roc_auc"] is None and ours["log_loss"] is None  # never computed from labels
            continue
        if len(classes) == 2:
            auc = metrics.roc_auc_score(truth == classes[-1], proba[:, 1])
        else:
            auc = metrics.roc_auc_score(truth, proba, multi_class="ovr", labels=classes)
        assert ours["roc_auc"] == pytest.approx(auc), role
        assert ours["log_loss"] == pytest.approx(metrics.log_loss(truth, proba, labels=classes)), role
        checked += ["accuracy", "roc_auc", "log_loss"]
    return sorted(set(checked))


def pages_render(home, pair, run_id, monkeypatch, verdict=None):
    monkeypatch.setenv("STAGING_HOME", str(home.root))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["staging.model_name"] = pair.model
    at.session_state[RUN_KEY] = run_id
    at.run()
    shown = {}
    for page in ("compare", "drift", "promote"):
        at.switch_page(PAGES[page]).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        # Promote shows each failed check's own sentence in an error box; any other error box is a fault
        failed = [f"{c['name']}: " for c in (verdict or {}).get("checks", []) if c["status"] == "failed"]
        faults = [e.value for e in at.error if not (page == "promote" and
                                                   e.value.replace("\\", "").startswith(tuple(failed)))]
        assert not faults, (page, faults)
        shown[page] = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]).replace("\\", "")
    return shown


@pytest.mark.parametrize("name", ["multiclass", "boosting", "text", "regression", "nosignature", "nullable"])
def test_a_pair_goes_from_replay_to_gate_report_and_pages(zoo, name, tmp_path, monkeypatch):
    home, pairs = zoo
    pair = pairs[name]
    labels = None
    if name in ESTIMATED:  # half the labels have arrived: the other half is estimated
        labels = tmp_path / "half-labels.csv"
        everything = pd.read_csv(pair.labels)
        everything.iloc[::2].to_csv(labels, index=False)
    out = replay(home, pair, labels=labels)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "finished" and summary["task"] == pair.task, summary
    verdict = gate(home, pair, summary["run_id"], tmp_path / "report")
    checks = {c["name"]: c for c in verdict["checks"]}
    checked = check_against_sklearn(summary, verdict, pair, labels)
    assert checked, "no figure was checked"
    if name in ESTIMATED:
        estimate = verdict["estimated_quality"]
        assert estimate is not None and estimate["unlabelled"] > 0, checks["estimated quality (unlabelled)"]
        bounded = [row["estimated_unlabelled"] for row in estimate["whole_run"] if row["metric"] not in ("mae", "rmse")]
        assert all(0 <= value <= 1 for value in bounded), estimate["whole_run"]  # never outside the metric's range
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["task"]["task"] == pair.task and report["task"]["source"]
    if pair.label_only:
        assert checks["quality: roc_auc"]["status"] == "not evaluated"
        assert "labels only" in checks["quality: roc_auc"]["sentence"]
    if pair.task == "regression":
        assert checks["quality: mae"]["status"] == "passed"  # the challenger's MAE is better
    shown = pages_render(home, pair, summary["run_id"], monkeypatch, verdict)
    evidence = stored_evidence(RunStore(home), summary["run_id"])  # and every chart of the run keeps the rules
    assert [p for _, title, make in report_charts(evidence) for p in problems_of(make(), title)] == []
    if pair.label_only:
        assert "not available: the model answers labels only" in shown["compare"]
    if name == "nosignature":
        assert "without a signature" in summary["traffic"]
    if name == "text":
        assert "review · length" in json.dumps(report["drift"], ensure_ascii=False)  # descriptors, not categories
    if name == "nullable":
        assert "optional integer input 'visits'" in out.stderr  # said before the replay
        assert "Failed to convert column visits" in json.dumps(report["errors"])  # the server's own words
        assert report["error_pairs"]["both"] > 0 and "failed on both" in checks["errors"]["sentence"]
        estimate = checks["estimated quality (unlabelled)"]["sentence"]
        assert "scoring the training reference failed" in estimate and "visits" in estimate  # not "needs a reference"
        assert "failed on both models" in shown["compare"]
    if name in EXPLAINED:
        explained = cli(home, "explain", "--backend", "process", "--model", pair.model, "--run", summary["run_id"],
                        "--disagreements", "12", "--others", "6", "--json")
        assert explained.returncode == 0, explained.stderr[-3000:]
        explanation = json.loads(explained.stdout)
        kind, outputs = EXPLAINED[name]
        assert explanation["status"] == "finished" and len(explanation["outputs"]["challenger"]) == outputs
        assert explanation["rows_explained"] > 0 and 0 < explanation["ndcg"] <= 1
        if kind == "vote":
            assert "labels only" in explanation["output"]
        if explanation["disagreements"]:  # each model's reasons toward its own answer
            assert "the challenger (answered" in explanation["disagreements"][0]["why"]
        again = cli(home, "explain", "--model", pair.model, "--run", summary["run_id"], "--json")
        assert json.loads(again.stdout)["seconds"] == explanation["seconds"]  # stored, not recomputed
    if name == "boosting":  # each model in its own environment: one has XGBoost, the other LightGBM
        from staging.backends.environments import environment_folder
        from staging.backends.wheels import model_requirements

        venvs = {v: environment_folder(home, model_requirements(home.images_dir / f"{pair.model}-v{v}" / "model"),
                                       "model") for v in ("1", "2")}
        site = {v: next((venvs[v] / "lib").glob("python3*/site-packages")) for v in venvs}
        assert (site["1"] / "xgboost").exists() and not (site["1"] / "lightgbm").exists()
        assert (site["2"] / "lightgbm").exists() and not (site["2"] / "xgboost").exists()


def test_a_custom_python_model_runs_once_trusted_and_the_trust_is_on_record(zoo, tmp_path, monkeypatch):
    home, pairs = zoo
    pair = pairs["custom"]
    refused = replay(home, pair)
    assert refused.returncode == 2 and "not trusted" in refused.stderr
    assert "--trust-code" in refused.stderr and "models-from-code" in refused.stderr
    out = replay(home, pair, "--trust-code", "champion", "--trust-code", f"{pair.model}/2")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    verdict = gate(home, pair, summary["run_id"], tmp_path / "report")
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["trusted model code"]["status"] == "warned"
    assert checks["artifact scan"]["status"] == "passed"
    assert check_against_sklearn(summary, verdict, pair)  # label + probability columns: the scores are read
    manifest = json.loads((Path(summary["run_folder"]) / "manifest.json").read_text())
    assert sorted(manifest["trusted_code"]) == [f"models:/{pair.model}/1", f"models:/{pair.model}/2"]
    pages_render(home, pair, summary["run_id"], monkeypatch, verdict)


def test_a_requirement_that_cannot_be_installed_is_named_for_both_models_before_anything_starts(zoo, tmp_path):
    import mlflow

    from staging.registry.client import configure_mlflow

    home, pairs = zoo
    configure_mlflow(home)
    client = mlflow.MlflowClient()
    pair = pairs["regression"]
    for version in ("1", "2"):  # the regression pair's files, from the registry, with a requirement no index holds
        copy = Path(mlflow.artifacts.download_artifacts(f"models:/{pair.model}/{version}",
                                                        dst_path=str(tmp_path / f"v{version}")))
        (copy / "requirements.txt").write_text(f"no-such-package-for-the-sandbox=={version}.0\n")
        with mlflow.start_run():
            mlflow.log_artifacts(str(copy), "model")
            uri = f"runs:/{mlflow.active_run().info.run_id}/model"
        registered = mlflow.register_model(uri, "zoo-broken")
        client.set_registered_model_alias("zoo-broken", "champion" if version == "1" else "challenger",
                                          registered.version)
    out = cli(home, "replay", "--backend", "process", "--model", "zoo-broken", "--traffic", str(pair.traffic),
              "--reference", str(pair.reference), "--requests", "50", "--json")
    assert out.returncode == 4, out.stderr[-2000:]
    assert "no-such-package-for-the-sandbox==1.0" in out.stderr and "no-such-package-for-the-sandbox==2.0" in out.stderr
    assert "the champion's" in out.stderr and "the challenger's" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["multiclass", "regression"])
def test_a_pair_runs_on_containers_too(zoo, name, tmp_path):
    from support import require_engine

    require_engine()
    home, pairs = zoo
    pair = pairs[name]
    out = cli(home, "replay", "--backend", "docker", "--model", pair.model, "--traffic", str(pair.traffic),
              "--labels", str(pair.labels), "--reference", str(pair.reference), "--requests", "200", "--json",
              timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["backend"] == "docker" and summary["status"] == "finished" and summary["errors"] == 0
    verdict = gate(home, pair, summary["run_id"], tmp_path / "report")
    assert check_against_sklearn(summary, verdict, pair)
