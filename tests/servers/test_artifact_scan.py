"""A candidate's files are scanned before anything loads them: a model whose pickle runs a
shell command, registered in a real MLflow registry, is refused with its finding named, nothing
starts and the command never runs; the demo models pass; the scan is a gate check and part of
the report."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from staging import Sandbox, SandboxHome
from staging.errors import ModelRefused
from staging.gate import FAILED, PASSED
from staging.gate.checks import artifact_scan_check
from staging.registry.client import configure_mlflow
from staging.registry.scan import scan_model_files


class Harmless(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0] * len(model_input)


class Payload:
    """Unpickling this runs `touch MARKER`: what a hostile model would do on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Booby(mlflow.pyfunc.PythonModel):
    def __init__(self, marker: Path) -> None:
        self.payload = Payload(marker)

    def predict(self, context, model_input, params=None):
        return [1] * len(model_input)


def _register(home: SandboxHome, name: str, model) -> str:
    configure_mlflow(home)
    mlflow.set_experiment("scan")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=model, registered_model_name=name)
    return str(info.registered_model_version)


@pytest.fixture()
def hostile_home(tmp_path) -> tuple[SandboxHome, Path]:
    """A real registry whose `booby` model has a harmless champion and a challenger whose pickle
    runs a shell command when loaded."""
    home = SandboxHome.from_env(tmp_path / "home").ensure()
    marker = tmp_path / "pwned"
    champion = _register(home, "booby", Harmless())
    challenger = _register(home, "booby", Booby(marker))
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("booby", "champion", champion)
    client.set_registered_model_alias("booby", "challenger", challenger)
    marker.unlink(missing_ok=True)  # MLflow loads a model once while logging it: only what follows counts
    return home, marker


def test_a_model_whose_pickle_runs_a_command_is_refused_before_anything_starts(hostile_home):
    home, marker = hostile_home
    with Sandbox(home, backend="process") as box:
        with pytest.raises(ModelRefused) as refused:
            box.start_servers("booby")
        assert box.servers == {}
    message = str(refused.value)
    assert "models:/booby/2" in message and "posix.system" in message, message
    assert "posix.system" in refused.value.findings
    assert not marker.exists(), "the hostile pickle ran"
    assert not list(home.logs_dir.glob("*.log")), "a server was started"

    scans = list(Sandbox(home, backend="process").scan_models(
        {"champion": box.resolve_pair("booby")["champion"], "challenger": box.resolve_pair("booby")["challenger"]}
    ).values())
    assert [scan.refused for scan in scans] == [False, True]
    check = artifact_scan_check(scans)
    assert check.status == FAILED and "posix.system" in check.sentence
    assert check.numbers["scans"][1]["dangerous"] == ["posix.system"]
    assert not marker.exists()


@pytest.mark.parametrize("target", ["subprocess.Popen", "builtins.exec", "builtins.eval", "runpy._run_code"])
def test_each_kind_of_code_execution_is_named(tmp_path, target):
    """A pickle naming any of these is dangerous; scanned without ever being loaded."""
    module, name = target.rsplit(".", 1)
    folder = tmp_path / "model"
    folder.mkdir()
    # protocol 0 by hand: GLOBAL, a string argument, TUPLE, REDUCE, STOP
    (folder / "model.pkl").write_bytes(f"c{module}\n{name}\n(S'id'\ntR.".encode())
    scan = scan_model_files("models:/x/1", folder)
    assert scan.refused and [f.target for f in scan.dangerous] == [target]


def test_the_demo_models_pass_the_scan_and_the_gate_shows_it(sandbox, finished_run):
    evidence = sandbox.evidence(finished_run)
    verdict = sandbox.gate(evidence)
    check = next(c for c in verdict.checks if c.name == "artifact scan")
    assert check.status == PASSED, check.sentence
    assert all(not scan["refused"] and scan["files_scanned"] >= 1 for scan in check.numbers["scans"])
    report = sandbox.report(evidence)
    html = Path(report.html).read_text()
    assert "artifact scan" in html and "picklescan" in html
    for name in sandbox.model_names():
        refs = sandbox.resolve_pair(name)
        assert not any(scan.refused for scan in sandbox.scan_models(refs).values()), name
