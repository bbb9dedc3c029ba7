"""The suite's tiers and shared fixtures.

Tiers are folders, and a test's tier comes from its folder, never from a list:

    tests/unit/<package>/test_<module>.py   pure: no registry, server, engine or browser
    tests/servers/                          real parts the test starts (marker `servers`)
    tests/e2e/                              the pages, through AppTest and Chromium (`servers`, `e2e`)

`pytest -m "not servers"` runs the unit tier. A unit test that asks for a fixture which starts
real parts is an error at collection: move it to servers/. Expensive things (training and
registering the demo, starting MLflow scoring servers, one finished replay run) happen once per
test session and are shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import ROOT

from staging import Sandbox, SandboxHome, TrafficSelection
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings


def _is_worker(config) -> bool:
    """Whether this process is one of pytest-xdist's workers (the controller runs the session hooks)."""
    return hasattr(config, "workerinput")


def _docker_client():
    try:
        from staging.backends.docker.backend import docker_client

        client = docker_client()
        client.api.timeout = 300  # a busy engine lists and removes slowly; the ping above was quick
        return client
    except Exception:  # noqa: BLE001 - no engine: nothing will be built, nothing to remove
        return None


def pytest_sessionstart(session):
    """The images the engine holds before the tests: what the suite leaves behind (see below)."""
    if not _is_worker(session.config) and (client := _docker_client()) is not None:
        session.config.stash[IMAGES_BEFORE] = {image.id for image in client.images.list(all=True)}


def _remove_the_images_the_tests_built(config) -> None:
    """The suite leaves the Docker engine with the images it found: model, runtime and app images
    built during the run are removed at its end, once every worker is done, models before the
    runtimes they stand on (the base image is scripts/test's to remove)."""
    before = config.stash.get(IMAGES_BEFORE, None)
    client = _docker_client() if before is not None else None
    if client is None:
        return
    try:
        built = [image for image in client.images.list(name="staging-sandbox/*")
                 if image.id not in before and not any(t.startswith("staging-sandbox/python") for t in image.tags)]
        built.sort(key=lambda image: any(t.startswith("staging-sandbox/runtime") for t in image.tags))  # models first
        for image in built:
            try:
                client.images.remove(image.id, force=True)
            except Exception:  # noqa: BLE001 - an image a leftover container uses stays, and says so
                print(f"could not remove {image.tags or image.id}")
        client.images.prune(filters={"dangling": True})
    except Exception as exc:  # noqa: BLE001 - cleaning up must not turn a passing run into an error
        print(f"could not clean up the images the tests built: {exc}")


IMAGES_BEFORE = pytest.StashKey[set]()


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> SandboxHome:
    """A sandbox home with both demo scenarios registered; STAGING_HOME points at it."""
    root = tmp_path_factory.mktemp("sandbox-home")
    os.environ["STAGING_HOME"] = str(root)
    os.environ.setdefault("STAGING_BACKEND", "process")  # the app under AppTest; docker has its own tests
    home = SandboxHome.from_env(root)
    from staging.registry.demo import bootstrap_demo

    bootstrap_demo(home)
    return home


@pytest.fixture(scope="session")
def sandbox(demo_home) -> Sandbox:
    """One Sandbox with the credit champion and challenger servers running for the session."""
    box = Sandbox(demo_home, backend="process")
    box.start_servers(CREDIT.model_name)
    yield box
    box.close()


@pytest.fixture(scope="session")
def finished_run(sandbox) -> str:
    """A finished shadow replay of 400 sampled credit requests."""
    handle = sandbox.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=400),
                                  ReplaySettings(concurrency=2))
    handle.wait()
    assert handle.error is None, handle.error
    assert handle.progress.status == "finished", handle.progress.reason
    return handle.run_id


@pytest.fixture(scope="session")
def explained_run(sandbox, finished_run) -> str:
    """The finished run explained through the credit servers: 40 disagreements and 20 other requests."""
    from staging.explain.settings import ExplainSettings

    handle = sandbox.start_explanation(sandbox.check_explanation(finished_run, ExplainSettings(disagreements=40,
                                                                                                others=20)))
    handle.wait(300)
    explanation = sandbox.explanation(finished_run)
    assert explanation is not None and explanation.status == "finished", (explanation, handle.log())
    return finished_run


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    """A sandbox home with the model zoo registered (tests/zoo.py): (home, name -> ZooPair)."""
    from zoo import build_zoo

    root = tmp_path_factory.mktemp("zoo-home")
    home = SandboxHome.from_env(root).ensure()
    return home, build_zoo(home, root / "files")


# Fixtures that start real parts: a unit test may not use them (directly or through another).
SERVER_FIXTURES = {"demo_home", "sandbox", "finished_run", "explained_run", "live", "app_url", "stack", "client", "running",
                   "demo_output", "app", "analysis", "zoo"}
TIERS = ("unit", "servers", "e2e")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(item.path).relative_to(ROOT / "tests").parts
        tier = parts[0] if len(parts) > 1 and parts[0] in TIERS else None
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in one of tests/{{{','.join(TIERS)}}}/")
        if tier == "unit" and SERVER_FIXTURES & set(item.fixturenames):
            raise pytest.UsageError(f"{item.nodeid} is in the unit tier but uses a fixture that starts real parts "
                                    f"({', '.join(sorted(SERVER_FIXTURES & set(item.fixturenames)))}): move it to "
                                    "tests/servers/.")
        if tier != "unit":
            item.add_marker(pytest.mark.servers)
        if tier == "e2e":
            item.add_marker(pytest.mark.e2e)


ALLOWED_SKIPS = ROOT / "tests" / "allowed_skips.txt"
_skipped: list[tuple[str, str]] = []


def _allowed_skips() -> list[str]:
    lines = ALLOWED_SKIPS.read_text().splitlines() if ALLOWED_SKIPS.exists() else []
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _note_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def pytest_runtest_logreport(report):
    _note_skip(report)


def pytest_collectreport(report):
    _note_skip(report)


def pytest_sessionfinish(session, exitstatus):
    """With STAGING_FORBID_SKIPS=1 (CI), a skipped test fails the run unless tests/allowed_skips.txt
    lists its node id (or a prefix of it) with the reason: a test that skips in CI did not pass.
    Decided in the controller, which sees every worker's reports; it also removes the built images."""
    if _is_worker(session.config):
        return
    _remove_the_images_the_tests_built(session.config)
    if os.environ.get("STAGING_FORBID_SKIPS") != "1":
        return
    allowed = _allowed_skips()
    refused = [(node, why) for node, why in _skipped if not any(node.startswith(a) for a in allowed)]
    if refused:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"{len(refused)} test(s) skipped that tests/allowed_skips.txt does not allow:"]
        lines += [f"  {node}: {why}" for node, why in refused]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = 1


def pytest_report_header(config):
    return f"sandbox tests from {ROOT}"

