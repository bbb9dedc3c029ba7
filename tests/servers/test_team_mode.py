"""Team mode against MLflow's real tracking server with its basic-auth app: two reviewers, one
with EDIT on the model and one with MLflow's default READ. The one without permission is
refused by MLflow and nothing moves or is recorded; the one with permission promotes, and the
audit record names the user MLflow authenticated. Passwords reach no file of the home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, free_port, wait_until_up

from staging import Credentials, PromotionError, Sandbox, SandboxHome, Settings
from staging.registry.team import add_user

ADMIN_PASSWORD = "admin-Secret-8c1f"
APP_PASSWORD = "app-Secret-51d2"
ALICE_PASSWORD = "alice-Secret-77e0"
BOB_PASSWORD = "bob-Secret-0b9a"
SECRETS = (ADMIN_PASSWORD, APP_PASSWORD, ALICE_PASSWORD, BOB_PASSWORD)


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """A tracking server with basic auth; the app's own account `sandbox`; the demo registered
    and replayed through it (process backend); alice with EDIT on credit-default, bob without."""
    root = tmp_path_factory.mktemp("team")
    data = root / "server"
    data.mkdir()
    config = root / "auth.ini"
    config.write_text((ROOT / "docker" / "mlflow-auth.ini").read_text().replace("/data/", f"{data}/"))
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server_env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
                  "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only"}
    log = open(root / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host",
                               "127.0.0.1", "--port", str(port), "--backend-store-uri", f"sqlite:///{data}/mlflow.db",
                               "--artifacts-destination", str(data / "artifacts"), "--serve-artifacts",
                               "--workers", "1"], env=server_env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        wait_until_up(f"{uri}/health", 120, log=root / "server.log")
        admin = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in admin.items():
                patch.setenv(key, value)
            add_user(uri, "sandbox", APP_PASSWORD, [])
            add_user(uri, "alice", ALICE_PASSWORD, [])
            add_user(uri, "bob", BOB_PASSWORD, [])
        home = root / "home"
        app_env = {**os.environ, "STAGING_HOME": str(home), "STAGING_TRACKING_URI": uri, "STAGING_TEAM_MODE": "1",
                   "MLFLOW_TRACKING_USERNAME": "sandbox", "MLFLOW_TRACKING_PASSWORD": APP_PASSWORD}
        demo = subprocess.run([sys.executable, "-m", "staging", "demo", "--backend", "process", "--requests", "200",
                               "--json"], env=app_env, capture_output=True, text=True, timeout=900, cwd=root)
        assert demo.returncode == 0, demo.stderr[-3000:]
        with pytest.MonkeyPatch.context() as patch:
            for key, value in admin.items():
                patch.setenv(key, value)
            add_user(uri, "alice", ALICE_PASSWORD, ["credit-default"], "EDIT")
        yield {"uri": uri, "home": home, "env": app_env, "run": json.loads(demo.stdout.strip().splitlines()[-1]),
               "server_log": root / "server.log"}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _sandbox(team, monkeypatch) -> Sandbox:
    for key, value in team["env"].items():
        if key.startswith(("STAGING_", "MLFLOW_TRACKING")):
            monkeypatch.setenv(key, value)
    return Sandbox(SandboxHome.from_env(team["home"]), backend="process", settings=Settings.from_env())


def test_a_reviewer_without_permission_is_refused_and_nothing_moves(team, monkeypatch):
    box = _sandbox(team, monkeypatch)
    assert box.team_mode
    evidence = box.evidence(team["run"]["run_id"])
    before = box.aliases("credit-default")
    with pytest.raises(PromotionError) as refused:
        box.promote(evidence, "anyone", "Bob tries.", True, override=True,
                    credentials=Credentials("bob", BOB_PASSWORD))
    assert "MLflow refused" in str(refused.value) and "bob" in str(refused.value)
    with pytest.raises(PromotionError) as wrong:
        box.promote(evidence, "anyone", "A wrong password.", True, override=True,
                    credentials=Credentials("alice", "not-her-password"))
    assert "did not accept" in str(wrong.value)
    with pytest.raises(PromotionError, match="MLflow user name and password"):
        box.promote(evidence, "alice", "No credentials.", True, override=True)
    assert box.aliases("credit-default") == before
    assert box.audit("credit-default") == []
    assert not list((box.store.folder(evidence.manifest.run_id) / "decisions").glob("*"))


def test_a_reviewer_with_permission_promotes_as_the_user_mlflow_signed_in(team, monkeypatch):
    box = _sandbox(team, monkeypatch)
    evidence = box.evidence(team["run"]["run_id"])
    challenger = evidence.manifest.challenger.version
    record = box.promote(evidence, "Somebody Else", "The evidence holds.", True, override=True,
                         credentials=Credentials("alice", ALICE_PASSWORD))
    assert record.reviewer == "alice"  # from MLflow's authentication, not the free-text name
    assert box.aliases("credit-default")["champion"] == challenger
    assert [r.reviewer for r in box.audit("credit-default")] == ["alice"]
    assert box.verify_audit().ok
    with pytest.raises(PromotionError, match="MLflow refused"):
        box.rollback("credit-default", "bob", "Bob may not undo it.", credentials=Credentials("bob", BOB_PASSWORD))
    assert box.aliases("credit-default")["champion"] == challenger
    back = box.rollback("credit-default", "x", "Rehearsal.", credentials=Credentials("alice", ALICE_PASSWORD))
    assert back.reviewer == "alice" and box.aliases("credit-default")["champion"] == evidence.manifest.champion.version


def test_the_command_line_signs_with_a_password_from_the_environment_and_refuses_without_one(team):
    env = {**team["env"], "STAGING_REVIEWER_PASSWORD": BOB_PASSWORD}
    command = [sys.executable, "-m", "staging", "promote", "--model", "credit-default", "--run", team["run"]["run_id"],
               "--reviewer", "bob", "--reason", "From a terminal.", "--yes", "--override"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and "MLflow refused" in refused.stderr and "Traceback" not in refused.stderr
    env.pop("STAGING_REVIEWER_PASSWORD")
    missing = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert missing.returncode == 2 and "STAGING_REVIEWER_PASSWORD" in missing.stderr


def test_no_password_reaches_the_homes_files(team):
    """Every file the sandbox wrote (runs, reports, audit log, logs, manifests) is free of every
    password used here."""
    leaks = []
    for path in Path(team["home"]).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path}: {secret[:6]}…" for secret in SECRETS if secret.encode() in data]
    assert not leaks, leaks


def test_the_promote_page_asks_for_mlflow_credentials_and_shows_a_refusal(team, monkeypatch):
    """In team mode the sign-off form has no free-text reviewer: an MLflow user name and a
    password field; bob's sign-off shows MLflow's refusal as a message, and the password is on
    no element of the page."""
    from streamlit.testing.v1 import AppTest

    from staging.ui import PAGES, RUN_KEY

    for key, value in team["env"].items():
        if key.startswith(("STAGING_", "MLFLOW_TRACKING")):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    app.session_state["staging.model_name"] = "credit-default"
    app.session_state[RUN_KEY] = team["run"]["run_id"]
    app.run()
    app.switch_page(PAGES["promote"]).run()
    labels = [field.label for field in app.text_input]
    assert "MLflow user name" in labels and "MLflow password" in labels and "Reviewer" not in labels
    app.text_input(key="signoff-user").input("bob")
    app.text_input(key="signoff-password").input(BOB_PASSWORD)
    app.text_area[0].input("Bob tries from the page.")
    for box in app.checkbox:
        if box.label.startswith(("Override", "I confirm")):
            box.check()
    next(button for button in app.button if button.label == "Promote the challenger").click().run()
    assert not app.exception
    shown = " ".join(e.value for e in app.error).replace("\\", "")
    assert "MLflow refused" in shown and "bob" in shown, shown
    assert BOB_PASSWORD not in " ".join(str(e.value) for e in [*app.error, *app.info, *app.markdown])
