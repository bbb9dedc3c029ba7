"""Time to first insight: from the click on **Run the demo** to the verdict card on screen, in
Debian's Chromium driven by Playwright, on a fresh sandbox home, per backend; and the analysis
of a 1,000-request run.

    python bench/first_insight.py [--backends process,docker]

Prints one JSON object:
- `demo_click_to_verdict_s_process` (goal <= 30 s) and `demo_click_to_verdict_s_docker` (goal
  <= 45 s with the base image cached). The fresh home trains its own demo models, so their
  model images are always built in the run; the runtime image under them (the requirements'
  venv, built once per requirement set, and warmed in the background after the base image)
  may be cached or not, and `docker_runtime_image_cached` says which. A backend that cannot
  run here is null, with the reason beside it.
- `analysis_1k_s` (goal <= 1 s): computing the evidence of that 1,000-request demo run once
  more from its files (the stored copy removed), the median of three.
- `demo_click_to_verdict_s_process_loaded`: the process measurement again, on a fresh home, with
  `--load` (default 2) busy processes spinning beside it, one per core on this machine, and
  `load_1m_during_loaded_run`, the 1-minute load average when it ended: how the first minute
  feels on a busy machine, stated, not guessed. `--load 0` skips it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import parse_with_quick, publish, wait_until_up

from staging.backends.process import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def click_to_verdict(backend: str, home: Path) -> float:
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = open(home.parent / f"streamlit-{backend}.log", "wb")
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)],
                           cwd=ROOT, env={**os.environ, "STAGING_HOME": str(home), "STAGING_BACKEND": backend},
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", 90)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(url)
            button = page.get_by_role("button", name="Run the demo")
            button.wait_for(timeout=90_000)
            began = time.monotonic()
            button.click()
            page.get_by_text("The verdict:").wait_for(timeout=600_000)
            elapsed = time.monotonic() - began
            browser.close()
        return elapsed
    finally:
        os.killpg(app.pid, 15)
        app.wait(60)


def analysis_seconds(home: Path) -> float:
    from staging import SandboxHome
    from staging.evidence import EVIDENCE_FILE, compute_evidence
    from staging.runs import RunStore

    store = RunStore(SandboxHome(home))
    run = store.list_runs()[0]
    (store.folder(run.run_id) / EVIDENCE_FILE).unlink(missing_ok=True)
    times = []
    for _ in range(3):
        began = time.perf_counter()
        compute_evidence(store, run.run_id)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def loaded(processes: int):
    """`processes` busy loops, started now and stopped by the caller (a list of Popen)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]


def docker_ready() -> tuple[bool, str, bool]:
    try:
        from staging.backends.docker.backend import docker_client
        from staging.backends.docker.images import RUNTIME_REPOSITORY, resolve_base_image

        client = docker_client()
        resolve_base_image(client)
        return True, "", bool(client.images.list(name=RUNTIME_REPOSITORY))
    except Exception as exc:  # noqa: BLE001 - the reason is printed
        return False, str(exc)[:200], False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="process,docker")
    parser.add_argument("--load", type=int, default=2, help="busy processes beside a second process run (0: none)")
    args = parse_with_quick(parser, backends="process", load=0)
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-first-insight-") as folder:
        for backend in args.backends.split(","):
            key = f"demo_click_to_verdict_s_{backend}"
            if backend == "docker":
                ready, why, cached = docker_ready()
                result["docker_runtime_image_cached"] = cached
                if not ready:
                    result[key], result[f"{key}_why_not"] = None, why
                    continue
            home = Path(folder) / f"home-{backend}"
            result[key] = round(click_to_verdict(backend, home), 1)
            if backend == "process":
                result["analysis_1k_s"] = round(analysis_seconds(home), 3)
        if args.load and "process" in args.backends.split(","):
            spinners = loaded(args.load)
            try:
                time.sleep(5)  # the load takes hold before the click
                result["demo_click_to_verdict_s_process_loaded"] = round(
                    click_to_verdict("process", Path(folder) / "home-loaded"), 1)
                result["load_1m_during_loaded_run"] = round(os.getloadavg()[0], 2)
                result["background_processes"] = args.load
            finally:
                for spinner in spinners:
                    spinner.kill()
    publish("first_insight", result)


if __name__ == "__main__":
    main()
