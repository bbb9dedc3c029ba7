"""Where production traffic may go: the endpoint allow-list, the URL forms it accepts, no
redirect followed, and the bearer token sent only to servers elsewhere."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ROOT

from staging import ConfigurationError, Settings
from staging.backends import EndpointBackend
from staging.errors import BackendError
from staging.serving.destinations import check_endpoint_url, destination
from staging.serving.endpoint import Endpoint
from staging.settings import LOOPBACK_HOSTS, allowed_hosts


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:5001", "http://127.0.0.1:5001"),
    ("http://localhost:5001/", "http://localhost:5001"),
    ("https://[::1]:8443", "https://[::1]:8443"),
    ("http://127.0.0.1:8080/v2/models/credit", "http://127.0.0.1:8080/v2/models/credit"),
    ("http://127.0.0.1:8080/v2/models/credit/versions/2/", "http://127.0.0.1:8080/v2/models/credit/versions/2"),
    ("HTTP://LOCALHOST:5001", "http://localhost:5001"),
])
def test_the_forms_of_a_model_server_base_are_accepted(url, expected):
    assert check_endpoint_url(url, LOOPBACK_HOSTS) == expected


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:8501/_stcore/health?q=", "more after its host"),  # the first round's SSRF
    ("http://127.0.0.1:8501/_stcore/health", "more after its host"),
    ("http://127.0.0.1:1/v2/models/m/../../x", "more after its host"),
    ("http://127.0.0.1:1/v2/models/..", "more after its host"),
    ("http://127.0.0.1:1/%2e%2e/admin", "more after its host"),
    ("http://127.0.0.1:1/#frag", "more after its host"),
    ("http://127.0.0.1:1\\@evil.example", "user name or password"),  # the host is evil.example
    ("http://evil.example:80", "not on the endpoint allow-list"),
    ("http://127.0.0.1.nip.io:80", "not on the endpoint allow-list"),
    ("http://2130706433:80", "not a host name"),
    ("http://0x7f.1:80", "not a host name"),
    ("http://user:pw@127.0.0.1:1", "user name or password"),
    ("ftp://127.0.0.1", "not an http(s) address"),
    ("127.0.0.1:5001", "not an http(s) address"),
    ("http://127.0.0.1:99999", "cannot be read"),
])
def test_urls_that_go_elsewhere_or_smuggle_a_route_are_refused(url, words):
    with pytest.raises(ConfigurationError) as refused:
        check_endpoint_url(url, LOOPBACK_HOSTS, "champion")
    assert words in str(refused.value) and refused.value.hint


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"https?://[a-z0-9.:\[\]@%/?#\\-]{0,40}", fullmatch=True))
def test_any_text_is_refused_or_becomes_a_plain_base_on_an_allowed_host(text):
    try:
        url = check_endpoint_url(text, ("127.0.0.1", "models.internal"))
    except ConfigurationError as refused:
        assert refused.message and refused.hint
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "models.internal")
    assert not parts.query and not parts.fragment and parts.username is None
    assert parts.path == "" or parts.path.startswith("/v2/models/")


def test_the_list_grows_from_the_setting_and_refuses_junk():
    assert allowed_hosts("Models.Internal, 10.0.0.5", ["::1"]) == (*LOOPBACK_HOSTS, "models.internal", "10.0.0.5")
    assert Settings.from_env({"STAGING_ALLOWED_HOSTS": "a.example"}).allowed_hosts[-1] == "a.example"
    with pytest.raises(ConfigurationError, match="STAGING_ALLOWED_HOSTS"):
        Settings.from_env({"STAGING_ALLOWED_HOSTS": "not a host"})


def test_the_endpoint_backend_checks_before_anything_is_sent(tmp_path):
    from staging import SandboxHome

    home = SandboxHome.from_env(tmp_path / "home")
    with pytest.raises(ConfigurationError, match="allow-list"):
        EndpointBackend(home, {"champion": "http://10.1.2.3:5001"})
    backend = EndpointBackend(home, {"champion": "http://10.1.2.3:5001/"}, allowed=(*LOOPBACK_HOSTS, "10.1.2.3"))
    assert backend.urls == {"champion": "http://10.1.2.3:5001"}
    assert destination(backend.urls["champion"]) == "POST http://10.1.2.3:5001/invocations"
    assert destination("http://h:1/v2/models/m") == "POST http://h:1/v2/models/m/infer"


def test_the_token_goes_only_to_servers_elsewhere(monkeypatch):
    monkeypatch.setenv("STAGING_ENDPOINT_TOKEN", "planted-token-6f1")
    elsewhere = Endpoint(role="champion", url="http://127.0.0.1:1", backend="endpoint")
    ours = Endpoint(role="champion", url="http://127.0.0.1:1", backend="docker")
    assert elsewhere.headers["Authorization"] == "Bearer planted-token-6f1"
    assert "Authorization" not in ours.headers
    assert "planted" not in repr(elsewhere) and "planted" not in str(elsewhere.as_dict())


class _Redirecting(http.server.BaseHTTPRequestHandler):
    """Answers every request with a redirect to a second server, which counts what reaches it."""

    reached: list[str] = []
    target = ""

    def _redirect(self):
        if self.server.server_address[1] == int(self.target.rsplit(":", 1)[1]):
            _Redirecting.reached.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(307)
        self.send_header("Location", f"{self.target}/stolen")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *args):
        pass


def test_no_redirect_is_followed_so_an_allowed_host_cannot_bounce_the_traffic():
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Redirecting.target = f"http://127.0.0.1:{servers[1].server_address[1]}"
    endpoint = Endpoint(role="champion", url=f"http://127.0.0.1:{servers[0].server_address[1]}", backend="endpoint")
    try:
        assert not endpoint.healthy()
        with pytest.raises(BackendError, match="HTTP 307"):
            endpoint.invoke(pd.DataFrame({"x": [1]}))
        assert _Redirecting.reached == []
    finally:
        for server in servers:
            server.shutdown()


def test_the_command_line_refuses_a_url_off_the_list_before_starting_anything(tmp_path):
    out = subprocess.run([sys.executable, "-m", "staging", "replay", "--home", str(tmp_path / "home"), "--model", "m",
                          "--traffic", str(tmp_path / "t.csv"), "--backend", "endpoint", "--champion-url",
                          "http://127.0.0.1:8501/_stcore/health?q=", "--challenger-url", "http://evil.example:1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "more after its host" in out.stderr or "allow-list" in out.stderr
    allowed = subprocess.run([sys.executable, "-m", "staging", "replay", "--home", str(tmp_path / "home"), "--model",
                              "m", "--traffic", str(tmp_path / "t.csv"), "--backend", "endpoint", "--champion-url",
                              "http://127.0.0.1:1", "--challenger-url", "http://models.internal:1", "--allow-host",
                              "models.internal"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert allowed.returncode == 2 and "allow-list" not in allowed.stderr  # past the list, refused for the file
