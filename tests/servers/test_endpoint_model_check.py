"""The endpoint backend reads what each URL serves before any request is replayed, and refuses
another model's servers, naming the model found there and the one expected: by the sandbox's
own server records, by V2 metadata, and by a validation request built from the signature
(MLflow's server). The right servers pass, and the check (or the user's reason to skip it) is
kept on the run."""

import json
import shutil
import subprocess
import sys

import pytest

from staging.backends import ProcessBackend
from staging.registry.scenarios import CREDIT, DELIVERY
from staging.roles import CHALLENGER, CHAMPION, ROLES
from staging.sandbox import Sandbox

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def elsewhere(demo_home, tmp_path_factory):
    """Both delivery-time versions on MLflow's server and the credit champion on MLServer, started
    outside the sandbox. `hide()` moves their records away, as for servers on a cluster."""
    outside = ProcessBackend(demo_home)
    box = Sandbox(demo_home, backend="process")
    delivery, credit = box.resolve_pair(DELIVERY.model_name), box.resolve_pair(CREDIT.model_name)
    servers = {role: outside.start(delivery[role], role) for role in ROLES}
    servers["credit-v2"] = outside.start(credit[CHAMPION], CHAMPION, runtime="mlserver")
    servers["credit-mlflow"] = outside.start(credit[CHAMPION], CHAMPION)
    aside = tmp_path_factory.mktemp("records-aside")
    records = sorted(demo_home.servers_dir.glob("*.json"))

    def hide():
        for path in records:
            if path.exists():
                shutil.move(str(path), aside / path.name)

    def show():
        for path in aside.glob("*.json"):
            shutil.move(str(path), demo_home.servers_dir / path.name)

    yield {role: server.endpoint.url for role, server in servers.items()}, hide, show
    show()
    for server in servers.values():
        outside.stop(server)
    box.close()


def replay(home, champion_url, challenger_url, *extra):
    return subprocess.run([sys.executable, "-m", "staging", "replay", "--model", CREDIT.model_name, "--traffic",
                           str(CREDIT.file("traffic")), "--requests", "20", "--backend", "endpoint", "--champion-url",
                           champion_url, "--challenger-url", challenger_url, "--home", str(home.root), "--json",
                           *extra], capture_output=True, text=True, timeout=600)


def refusal(out) -> str:
    """The command's last line: its refusal, in one line, after the lines that said what it did."""
    return out.stderr.strip().splitlines()[-1]


def test_the_sandboxs_own_servers_of_another_model_are_refused_by_their_record(demo_home, elsewhere):
    urls, hide, show = elsewhere
    show()
    runs = len(list(demo_home.runs_dir.glob("*")))
    out = replay(demo_home, urls[CHAMPION], urls[CHALLENGER])
    assert out.returncode == 2 and refusal(out).startswith("error: "), out.stderr
    assert "own server of delivery-time v" in out.stderr and "not credit-default v" in out.stderr, out.stderr
    assert len(list(demo_home.runs_dir.glob("*"))) == runs  # no run: nothing was replayed


def test_mlflow_servers_of_another_model_are_refused_on_a_validation_request(demo_home, elsewhere):
    urls, hide, show = elsewhere
    hide()
    out = replay(demo_home, urls[CHAMPION], urls[CHALLENGER])
    assert out.returncode == 2 and refusal(out).startswith("error: "), out.stderr
    assert "refused a request shaped like the signature of credit-default" in out.stderr, out.stderr
    assert "missing inputs" in out.stderr, out.stderr


def test_a_v2_server_of_another_model_is_refused_by_its_metadata(demo_home, elsewhere):
    urls, hide, show = elsewhere
    hide()
    box = Sandbox(demo_home, backend="endpoint", endpoint_urls={CHAMPION: urls["credit-v2"],
                                                                 CHALLENGER: urls["credit-v2"]})
    try:
        from staging.errors import ConfigurationError

        with pytest.raises(ConfigurationError) as refused:
            box.start_servers(DELIVERY.model_name)
        message = str(refused.value)
        assert "serves the V2 model 'credit-default'" in message and "not delivery-time v" in message, message
        assert "age" in message and "distance_km" in message, message
    finally:
        box.close()


def test_the_right_model_passes_and_the_check_is_kept_on_the_run(demo_home, elsewhere):
    urls, hide, show = elsewhere
    hide()
    out = replay(demo_home, urls["credit-mlflow"], urls["credit-v2"])
    assert out.returncode in (0, 1), out.stderr[-2000:]
    run_id = json.loads(out.stdout)["run_id"]
    manifest = json.loads((demo_home.runs_dir / run_id / "manifest.json").read_text())
    checked = {role: entry["checked"] for role, entry in manifest["models"].items()}
    assert "validation request built from the signature was answered HTTP 200" in checked[CHAMPION], checked
    assert "V2 metadata ('credit-default') takes the signature's inputs" in checked[CHALLENGER], checked


def test_a_user_may_skip_the_check_with_a_reason_that_the_run_keeps(demo_home, elsewhere):
    urls, hide, show = elsewhere
    hide()
    out = replay(demo_home, urls["credit-mlflow"], urls["credit-mlflow"], "--unchecked-endpoints",
                 "logged without a signature")
    assert out.returncode in (0, 1), out.stderr[-2000:]
    run_id = json.loads(out.stdout)["run_id"]
    manifest = json.loads((demo_home.runs_dir / run_id / "manifest.json").read_text())
    assert all("logged without a signature" in entry["checked"] for entry in manifest["models"].values())
