"""Capacity side by side (issue 24): the harness against wrk, models of known capacity, and the
demo pair measured as a user would.

Prints one JSON line:
    known_capacity_error_pct   the worst of one and two server workers: the measured sustainable
                               rate of a model that holds a core 10 ms per request, against its
                               capacity by the utilization law (workers / CPU seconds per
                               request, measured on the same server at 60% of its nominal rate)
    worker_ratio_error_pct     two workers' rate over one worker's, against 2
    harness_ceiling_ratio_vs_wrk  the harness's ceiling against the stub over wrk's throughput on
                               the same stub, in the same run
    capacity_run_s             the demo pair on processes, a full ramp of both models with repeats
                               and the spike (the CLI's defaults)
    spike_recovery_s           the slower model's return to its base p99 after the demo's spike
    container_ratio_error_pct  the busy model under cpus=1.0 over cpus=0.5, against 2 (full run only)
and the figures behind them (rates, the nominal 100 and 200 req/s, the demo's rates, cost and
spike on processes and containers).

Run: python bench/capacity.py [--quick] [--no-containers] [--home DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine_state, publish  # noqa: E402

BODY = [b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}']
HOLD_MS = 10.0
WRK_SCRIPT = 'wrk.method = "POST"\nwrk.body = \'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}\'\n' \
             'wrk.headers["Content-Type"] = "application/json"\n'


def register_busy_model(home) -> object:
    """The busy model, registered twice (champion v1, challenger v2), with the demo's requirements."""
    import busy_model
    import cloudpickle
    import mlflow
    from mlflow import MlflowClient

    from staging.refs import ModelRef
    from staging.registry.client import configure_mlflow
    from staging.registry.scenarios import CREDIT

    configure_mlflow(home)
    mlflow.set_experiment("capacity-bench")
    requirements = _demo_requirements(home, CREDIT.model_name)
    cloudpickle.register_pickle_by_value(busy_model)
    client = MlflowClient()
    for _ in (1, 2):
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=busy_model.BusyModel(HOLD_MS),
                                           pip_requirements=requirements)
        mlflow.register_model(info.model_uri, "busy-10ms")
    latest = max(int(v.version) for v in client.search_model_versions("name='busy-10ms'"))
    client.set_registered_model_alias("busy-10ms", "champion", str(latest - 1))
    client.set_registered_model_alias("busy-10ms", "challenger", str(latest))
    return ModelRef("busy-10ms", str(latest - 1))


def _demo_requirements(home, model_name: str) -> list[str]:
    from staging.refs import ModelRef
    from staging.registry.model_files import model_files

    text = (model_files(home, ModelRef(model_name, "1")) / "model" / "requirements.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def harness_against_wrk(sender, quick: bool) -> dict:
    from staging.capacity.harness import CEILING_RAMP, StubServer, harness_ceiling
    from staging.capacity.ramp import RampSettings

    ramp = RampSettings(start_rate=500, growth=2.0, max_rate=32000, step_s=1.0, refine_steps=1) if quick \
        else CEILING_RAMP
    ceiling = harness_ceiling(sender, ramp)
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(WRK_SCRIPT)
    with StubServer() as stub:
        out = subprocess.run(["wrk", "-t1", "-c16", f"-d{1 if quick else 5}s", "-s", str(script), stub.url],
                             capture_output=True, text=True, timeout=120).stdout
    wrk = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    return {"harness_ceiling_rps": ceiling.rate, "wrk_rps": round(wrk, 1),
            "harness_ceiling_ratio_vs_wrk": round((ceiling.rate or 0) / wrk, 3)}


def known_capacity(backend, ref, sender, quick: bool, objective_ms: float = 250.0, workers: float = 1.0) -> dict:
    """One server of the busy model: its CPU per request at 60% of its nominal capacity, the capacity that implies
    (utilization law: the cores it may use over the CPU seconds per request), and the ramp's rate."""
    from staging.capacity import Objective, RampSettings, measure_server, measure_step

    server = backend.start(ref, "champion", timeout=180)
    try:
        read = lambda: backend.usage(server)
        url = server.endpoint.invocations_url
        measure_step(sender, url, BODY, 10.0, RampSettings(step_s=1.0, min_requests=10), read)  # warm the code
        # the CPU per request at 60% of the nominal capacity: at a low rate the server's idle CPU
        # (its event loop's wake-ups) would be charged to too few requests and bias the figure up
        probe_rate = 60.0 * workers
        probe = measure_step(sender, url, BODY, probe_rate, RampSettings(step_s=1.0 if quick else 6.0,
                                                                         min_requests=20), read)
        cpu_per_request = probe.resources["cpu_cores_mean"] / probe.achieved
        ramp = (RampSettings(start_rate=40, growth=2.0, max_rate=2000, step_s=1.0, refine_steps=1) if quick else
                RampSettings(start_rate=20, growth=1.5, max_rate=2000, step_s=5.0, refine_steps=4))
        found = measure_server(sender, url, BODY, ramp, Objective("p99", objective_ms), read)
    finally:
        backend.stop(server)
    return {"cpu_ms_per_request": round(cpu_per_request * 1000, 2), "rate": found.rate, "first_bad": found.first_bad}


def known_figures(home, ref, sender, quick: bool) -> dict:
    from staging.backends.process import ProcessBackend

    figures = {}
    for workers in (1,) if quick else (1, 2):  # quick: one server shows the figures still print
        backend = ProcessBackend(home, workers=workers)
        backend.prepare({"champion": ref})
        measured = known_capacity(backend, ref, sender, quick, workers=workers)
        known = workers * 1000 / measured["cpu_ms_per_request"]
        figures[f"{workers}_worker"] = {**measured, "known_rate": round(known, 1), "nominal_rate": 100.0 * workers,
                                        "error_pct": round(abs((measured["rate"] or 0) - known) / known * 100, 1)}
    one, two = figures["1_worker"]["rate"] or 0, (figures.get("2_worker") or {}).get("rate") or 0
    return {"known_capacity": figures,
            "known_capacity_error_pct": max(f["error_pct"] for f in figures.values()),
            "worker_ratio": round(two / one, 3) if one and two else None,
            "worker_ratio_error_pct": round(abs(two / one - 2) / 2 * 100, 1) if one and two else None}


def container_ratio(home, ref, sender) -> dict:
    from staging.backends.docker.backend import DockerBackend
    from staging.settings import ContainerLimits

    rates = {}
    for cpus in (0.5, 1.0):
        backend = DockerBackend(home, limits=ContainerLimits(cpus=cpus))
        backend.prepare({"champion": ref})
        rates[cpus] = known_capacity(backend, ref, sender, quick=False, objective_ms=500.0, workers=cpus)["rate"] or 0
    ratio = rates[1.0] / rates[0.5] if rates[0.5] else None
    return {"container_rates": {str(k): v for k, v in rates.items()}, "container_ratio": ratio and round(ratio, 3),
            "container_ratio_error_pct": round(abs(ratio - 2) / 2 * 100, 1) if ratio else None}


def demo_pair(home, backend: str, quick: bool) -> dict:
    """The demo pair's capacity run, timed. Quick mode reads the demo pair's run already kept under
    the home when there is one (the suite's command test measured it a moment before): it checks
    the keys print, not the figure."""
    from staging import Sandbox
    from staging.capacity.ramp import RampSettings
    from staging.capacity.result import Prices
    from staging.capacity.run import CapacitySettings
    from staging.capacity.spike import SpikeSettings
    from staging.capacity.store import CapacityStore
    from staging.registry.scenarios import CREDIT

    settings = CapacitySettings(prices=Prices(0.05, 0.005, "USD"), peak_rate=2000)
    if quick:
        settings = CapacitySettings(ramp=RampSettings(start_rate=20, growth=2.0, max_rate=80, step_s=1.0,
                                                      refine_steps=1, min_requests=20), repeats=1, warmup_s=1.0,
                                    spike=SpikeSettings(before_s=1, spike_s=1, after_s=2), measure_harness=False,
                                    prices=Prices(0.05, 0.005, "USD"), peak_rate=2000)
    kept = CapacityStore(home).latest(CREDIT.model_name) if quick else None
    if kept is not None:
        result, elapsed = kept, kept.duration_s
    else:
        with Sandbox(home, backend=backend) as box:
            prepared = box.check_capacity(CREDIT.model_name, None, settings)
            began = time.monotonic()
            result = box.run_capacity(prepared)
            elapsed = time.monotonic() - began
    spikes = [m.spike for m in result.models.values() if m.spike]
    recoveries = [s.recovery_s for s in spikes]
    data = result.as_dict()
    return {"capacity_run_s": round(elapsed, 1), "conclusion": result.conclusion(),
            "spike_recovery_s": None if not recoveries or None in recoveries else max(recoveries),
            "rates": {role: m["rates"] for role, m in data["models"].items()},
            "cost_per_1k_usd": data["cost_per_1k"],
            "spike": {role: {k: m["spike"][k] for k in ("base_rate", "peak_rate", "errors_during", "sent_during",
                                                        "worst_p99_ms", "recovery_s")}
                      for role, m in data["models"].items() if m["spike"]},
            "ceiling_rps": (data.get("ceiling") or {}).get("rate")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny ramps, no containers: checks the keys print")
    parser.add_argument("--no-containers", action="store_true", help="skip the Docker figures")
    parser.add_argument("--home", help="a sandbox home with the demo's models already registered (default: a new one)")
    args = parser.parse_args()

    from staging.capacity import Sender
    from staging.home import SandboxHome
    from staging.registry.demo import bootstrap_demo

    if args.home:
        home = SandboxHome(Path(args.home)).ensure()
    else:
        home = SandboxHome(Path(tempfile.mkdtemp(prefix="capacity-bench-")) / "home").ensure()
        bootstrap_demo(home)
    ref = register_busy_model(home)
    figures: dict = {"machine": machine_state()}
    with Sender() as sender:
        figures.update(harness_against_wrk(sender, args.quick))
        figures.update(known_figures(home, ref, sender, args.quick))
        if not (args.quick or args.no_containers):
            figures.update(container_ratio(home, ref, sender))
    demo = demo_pair(home, "process", args.quick)
    figures.update({"capacity_run_s": demo["capacity_run_s"], "spike_recovery_s": demo["spike_recovery_s"],
                    "demo_on_processes": demo})
    if not (args.quick or args.no_containers):
        figures["demo_on_containers"] = demo_pair(home, "docker", args.quick)
    figures["machine_after"] = machine_state()
    publish("capacity", figures)


if __name__ == "__main__":
    main()
