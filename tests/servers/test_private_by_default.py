"""Private by default: the README's command starts an app that listens on loopback only (read
from the kernel with `ss` and probed from another address of this host), sends no usage
statistics and shows no Deploy button; compose publishes every port on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import yaml
from support import ROOT, streamlit_app


def _readme_command() -> list[str]:
    """The app half of the README's first command (`pip install … && streamlit run …`)."""
    line = next(line for line in (ROOT / "README.md").read_text().splitlines() if "streamlit run" in line)
    return line.split("&&")[-1].split()


def _other_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [address for address in out if "." in address and not address.startswith("127.")]


def test_the_readme_command_listens_on_loopback_only(tmp_path):
    command = _readme_command()
    assert command[:2] == ["streamlit", "run"] and not any("address" in part for part in command)
    home = tmp_path / "home"
    home.mkdir()
    with streamlit_app(home, command=tuple(command)) as url:
        port = int(url.rsplit(":", 1)[1])
        listeners = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        local = {row.split()[3] for row in listeners.strip().splitlines()}
        assert local == {f"127.0.0.1:{port}"}, listeners  # not 0.0.0.0, not *, not [::]
        others = _other_addresses()
        assert others, "this host has no other address to probe from"
        for address in others:
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((address, port)) != 0, f"the app answers on {address}"


def test_usage_statistics_are_off_and_there_is_no_deploy_button():
    shown = subprocess.run([sys.executable, "-c", "import streamlit.config as c; c.get_config_options(); "
                            "print(c.get_option('browser.gatherUsageStats'), c.get_option('server.address'), "
                            "c.get_option('client.toolbarMode'))"], cwd=ROOT, capture_output=True, text=True)
    assert shown.stdout.split() == ["False", "127.0.0.1", "minimal"], shown.stderr[-2000:]


def test_compose_publishes_on_loopback_only():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published and all(re.match(r"127\.0\.0\.1:", port) for port in published), published
    assert [name for name, service in services.items()
            if any("docker.sock" in str(volume) for volume in service.get("volumes", []))] == ["engine-proxy"]
