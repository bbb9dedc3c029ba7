"""`python -m staging gate` against a real registry and a real run: a pass, a failure and bad
input, each with its exit code, as a CI pipeline would call it."""

import json
import os
import subprocess
import sys

import pytest
from support import ROOT

from staging.gate import default_policy

RELAXED = """name = "relaxed latency"
[quality.classification.accuracy]
rule = "not_worse"
margin = 0.2
[latency]
max_p95_ratio = 20.0
max_p99_ratio = 20.0
[drift]
dataset = "warn"
prediction = "warn"
[segments]
action = "warn"
"""
DEMANDING = """name = "challenger must win by half"
[quality.classification.accuracy]
rule = "better"
min_absolute_change = 0.5
"""


def gate_cli(home, *args):
    return subprocess.run([sys.executable, "-m", "staging", "gate", "--home", str(home), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_a_run_that_passes_exits_0_with_every_check_and_the_policy_hash(demo_home, finished_run, tmp_path):
    policy = tmp_path / "relaxed.toml"
    policy.write_text(RELAXED)
    out = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--policy", str(policy),
                   "--json")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    verdict = json.loads(out.stdout)
    assert verdict["run_id"] == finished_run and verdict["passed"] is True
    assert verdict["policy"]["sha256"] == __import__("hashlib").sha256(RELAXED.encode()).hexdigest()
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["quality: accuracy"]["status"] == "passed" and checks["quality: accuracy"]["numbers"]["paired"]
    assert all(c["status"] in ("passed", "warned", "not evaluated") and c["sentence"] for c in verdict["checks"])
    human = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--policy", str(policy))
    assert human.returncode == 0 and "quality: accuracy" in human.stdout and "Gate for run" in human.stdout


def test_a_run_that_fails_the_policy_exits_1(demo_home, finished_run, tmp_path):
    policy = tmp_path / "demanding.toml"
    policy.write_text(DEMANDING)
    out = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--policy", str(policy),
                   "--json")
    assert out.returncode == 1, out.stderr[-2000:]
    verdict = json.loads(out.stdout)
    failed = [c["name"] for c in verdict["checks"] if c["status"] == "failed"]
    assert failed == ["quality: accuracy"] and verdict["status"] == "failed"


def test_a_run_the_evidence_cannot_decide_is_not_yet_and_exits_5_with_the_labels_needed(demo_home, finished_run,
                                                                                       tmp_path):
    policy = tmp_path / "patient.toml"
    policy.write_text("name = 'patient'\nmin_labelled = 250000\n")
    out = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--policy", str(policy),
                   "--json", "--report", str(tmp_path / "report"))
    assert out.returncode == 5, out.stdout + out.stderr[-2000:]  # not 1: nothing shows the challenger worse
    verdict = json.loads(out.stdout)
    assert verdict["status"] == "not yet" and verdict["passed"] is False and verdict["labels_needed"] == 250_000
    assert "about 250,000 labelled requests" in verdict["headline"] and f"the run has {verdict['labelled']:,}" in \
        verdict["headline"]
    labels = next(c for c in verdict["checks"] if c["name"] == "labels")
    assert labels["status"] == "not yet" and labels["numbers"]["labels_needed"] == 250_000
    report = (tmp_path / "report").glob("*.html").__next__().read_text()
    assert "not yet" in report and "about 250,000 labelled requests" in report
    human = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--policy", str(policy))
    assert human.returncode == 5 and "NOT YET" in human.stdout and "about 250,000 labelled requests" in human.stdout


def test_the_models_own_policy_file_in_the_home_is_used(demo_home, finished_run):
    named = demo_home.policies_dir / "credit-default.toml"
    named.parent.mkdir(exist_ok=True)
    named.write_text(DEMANDING)
    try:
        out = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--json")
        assert out.returncode == 1 and json.loads(out.stdout)["policy"]["name"] == "challenger must win by half"
    finally:
        named.unlink()
    out = gate_cli(demo_home.root, "--model", "credit-default", "--run", finished_run, "--json")
    assert json.loads(out.stdout)["policy"]["sha256"] == default_policy().sha256


@pytest.mark.parametrize("args, words", [
    (["--model", "credit-default", "--policy", "/nonexistent/policy.toml"], "cannot be read"),
    (["--model", "credit-default", "--policy", "{bad}"], "not valid TOML"),
    (["--model", "no-such-model"], "has no model 'no-such-model'"),
    (["--model", "credit-default", "--run", "20990101-000000-nope"], "There is no run"),
])
def test_bad_input_exits_2_with_one_line(demo_home, finished_run, tmp_path, args, words):
    if "{bad}" in args:
        bad = tmp_path / "bad.toml"
        bad.write_text("[latency\nmax_p95_ratio = 1")
        args = [str(bad) if a == "{bad}" else a for a in args]
    out = gate_cli(demo_home.root, *args)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], out.stderr
    assert out.stdout == ""


def test_a_run_where_every_request_failed_fails_on_its_errors_without_a_crash(demo_home, sandbox, finished_run,
                                                                             monkeypatch):
    from streamlit.testing.v1 import AppTest
    from support import all_errors_run

    from staging.ui import PAGES, RUN_KEY

    run = all_errors_run(sandbox, finished_run)
    out = gate_cli(demo_home.root, "--model", "credit-default", "--run", run, "--json")
    assert out.returncode == 1, out.stderr[-2000:]  # not passed: never 3, a fault of the sandbox
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["errors"]["status"] == "failed" and "failed more than 50% of requests" in checks["errors"]["sentence"]
    for name in ("labels", "latency p95", "latency p99", "quality: accuracy"):
        assert checks[name]["status"] == "not evaluated", (name, checks[name])
    assert "no request was answered" in checks["labels"]["sentence"]
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["staging.model_name"] = "credit-default"
    at.session_state[RUN_KEY] = run
    at.run()
    at.switch_page(PAGES["promote"]).run()
    assert not at.exception and not any("Something failed" in e.value for e in at.error), [e.value for e in at.error]
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.text, *at.warning, *at.info, *at.error])
    shown = shown.replace("\\", "")
    dataframes = " ".join(f.value.astype(str).to_string() for f in at.dataframe)
    assert "failed more than 50% of requests" in shown + dataframes


def test_a_run_whose_model_version_left_the_registry_is_judged_with_the_version_named(sandbox, finished_run):
    from staging.errors import RegistryError
    from staging.refs import ModelRef
    from staging.registry.model_files import model_files

    with pytest.raises(RegistryError) as missing:
        model_files(sandbox.home, ModelRef("credit-default", "999"))
    assert "Version 999 of credit-default is no longer in the registry" in str(missing.value)
    from dataclasses import replace

    from staging.runs import ModelEntry

    evidence = sandbox.evidence(finished_run)
    deleted = ModelEntry("credit-default", "999", "challenger", "models:/credit-default/999", "")
    gone = evidence.manifest.replace(models={**evidence.manifest.models, "challenger": deleted})
    verdict = sandbox.gate(replace(evidence, manifest=gone))  # no MlflowException: the sandbox's own words
    scan = next(c for c in verdict.checks if c.name == "artifact scan")
    assert scan.status == "not evaluated" and "Version 999 of credit-default is no longer in the registry" in scan.sentence
