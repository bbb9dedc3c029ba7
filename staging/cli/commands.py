"""The commands of `python -m staging`: each checks its options, makes one `Sandbox`, and returns
an `Outcome` (what to print and the exit code) for `main` to render.

Exit codes, the same for every command: 0 done (a gate passed, a run finished); 1 refused or
not good (a failed gate, a conflict, a broken audit chain, a run that ended degraded, aborted,
cancelled or failed); 2 bad input, said in one line before anything slow starts; 3 a fault of
the sandbox or a service it uses (the traceback goes to the home's logs/cli.log, never the
terminal); 4 a model could not be served (its own requirements cannot be installed, or its
server died on start: a ModuleNotFoundError, say), named for both models at once; 5 a gate
that says "not yet" (the evidence cannot decide; the JSON's labels_needed says how many labelled
requests would).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends.mlserver import parse_runtimes
from ..capacity.ramp import Objective, RampSettings
from ..capacity.result import Prices
from ..capacity.run import CapacitySettings
from ..capacity.spike import SpikeSettings
from ..errors import ConfigurationError, RegistryError
from ..explain.settings import ExplainSettings
from ..gate import FAILED, NOT_YET, PASSED, WARNED
from ..home import SandboxHome
from ..jsonable import plain
from ..registry.scenarios import SCENARIOS
from ..registry.team import Credentials, add_user
from ..replay import parse_canary_steps
from ..replay.handle import follow
from ..runs import UNFINISHED_OUTCOMES
from ..runs.settings import ReplaySettings
from ..sandbox import Sandbox
from ..settings import Settings
from ..traffic.remote import is_remote
from ..traffic.selection import TrafficSelection
from . import render


@dataclass(frozen=True)
class Outcome:
    """What a command says: `data` (its JSON), `text` for a person (None: the JSON, indented), the exit code."""

    data: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    exit_code: int = 0


def _sandbox(args: argparse.Namespace, **options: Any) -> Sandbox:
    return Sandbox(SandboxHome.from_env(args.home), **({"backend": "process"} | options))


def resolve_run(sandbox: Sandbox, model: str | None, run: str) -> str:
    """A run id as given, or the model's newest for `latest`; one sentence when there is no such run."""
    runs = sandbox.runs(model)
    if run == "latest":
        if model is None:
            raise ConfigurationError("--run latest needs --model: the newest run of which model?",
                                     hint="Add --model NAME, or give the run id.")
        if not runs:
            known = sandbox.model_names()
            raise ConfigurationError(
                f"There is no run of '{model}' in {sandbox.home.root}." if model in known else
                f"The registry has no model '{model}'.",
                hint="Replay traffic first (python -m staging replay ...), or check --model and --home." if
                model in known else f"Registered models: {', '.join(known) or 'none'}.")
        return runs[0].run_id
    if run not in {r.run_id for r in runs}:
        where = f" of '{model}'" if model else f" in {sandbox.home.root}"
        raise ConfigurationError(f"There is no run '{run}'{where}.",
                                 hint="Give a run id that `python -m staging replay` printed, or --run latest.")
    return run


def _confirmed(args: argparse.Namespace) -> None:
    if not args.yes:
        raise ConfigurationError(f"{args.command} moves the champion alias and needs --yes to confirm it.",
                                 hint="Add --yes once you have read the gate's verdict.")


def build_app(args: argparse.Namespace, log) -> Outcome:
    from ..backends.docker.backend import docker_client
    from ..backends.docker.images import build_app_image

    client = docker_client()
    image = client.images.get(build_app_image(client, Path(__file__).resolve().parents[2], log))
    return Outcome({"image": image.tags, "size_mb": round(image.attrs["Size"] / 1e6)})


def prune_images(args: argparse.Namespace, log) -> Outcome:
    from ..backends.docker.backend import docker_client
    from ..backends.docker.images import prune_model_images

    result = prune_model_images(docker_client(), args.keep, log)
    log(f"removed {len(result['removed'])} model image(s), {result['freed_mb']} MB freed")
    return Outcome(result)


def build_base(args: argparse.Namespace, log) -> Outcome:
    from ..backends.docker.backend import docker_client
    from ..backends.docker.images import BUILT_BASE_IMAGE, build_base_image, image_exists

    client = docker_client()
    if image_exists(client, BUILT_BASE_IMAGE) and not args.force:
        log(f"{BUILT_BASE_IMAGE} is already there (use --force to rebuild)")
    else:
        build_base_image(client, log)
    image = client.images.get(BUILT_BASE_IMAGE)
    return Outcome({"image": BUILT_BASE_IMAGE, "id": image.id, "size_mb": round(image.attrs["Size"] / 1e6)})


def run_demo(args: argparse.Namespace, log) -> Outcome:
    scenario = SCENARIOS[args.scenario]
    if args.requests < 1 or args.concurrency < 1:
        raise ConfigurationError("--requests and --concurrency must be whole numbers above 0.",
                                 hint="For example --requests 1000 --concurrency 2.")
    runtimes = parse_runtimes(args.runtime)
    with _sandbox(args, backend=args.backend) as sandbox:
        log(f"bootstrap: registering the demo models in {sandbox.home.root}")
        sandbox.load_demo()
        log(f"backend: {sandbox.backend_notice}")
        sandbox.start_servers(scenario.model_name, progress=lambda role, msg: log(f"{role}: {msg}"),
                              replica=args.replica, runtimes=runtimes)
        handle = sandbox.begin_replay(scenario.model_name, scenario.file("traffic"),
                                      TrafficSelection(sample_size=args.requests),
                                      ReplaySettings(concurrency=args.concurrency))
        follow(handle, lambda p: log(f"replay: {p.completed:,}/{p.total:,} requests, {p.throughput:,.0f} answers/s"))
        if handle.error is not None:
            raise handle.error
        evidence = sandbox.evidence(handle.run_id)
    return _finished(plain({"backend": sandbox.backend.name, "run_id": handle.run_id,
                   "status": evidence.manifest.status, "requests": handle.progress.completed,
                   "agreement": evidence.agreement.rate, "drifted_features": evidence.drifted_features,
                   "dataset_drift": evidence.dataset_drift, "labelled": evidence.labelled,
                   "noise_floor_agreement": evidence.noise_floor.rate if evidence.noise_floor else None,
                   "runtimes": {role: {"runtime": m.runtime, "protocol": m.protocol}
                                for role, m in evidence.manifest.models.items()},
                   **evidence.headline()}))


def _timestamp(text: str | None, flag: str):
    import pandas as pd

    if not text:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigurationError(f"{flag} {text!r} is not a date or time.",
                                 hint=f"Give it in ISO 8601, such as {flag} 2026-10-19 or 2026-10-19T08:00.")
    return stamp


def endpoint_urls(args: argparse.Namespace) -> dict[str, str] | None:
    urls = {role: url for role, url in (("champion", args.champion_url), ("challenger", args.challenger_url)) if url}
    if args.backend == "endpoint":
        if len(urls) < 2:
            raise ConfigurationError("--backend endpoint needs --champion-url and --challenger-url.",
                                     hint="Give each model's base URL: http://HOST:PORT for MLflow's scoring server, "
                                          "http://HOST/v2/models/NAME for a V2 server (KServe, MLServer, Triton).")
        return urls
    unchecked: str = getattr(args, "unchecked_endpoints", "") or ""
    if urls or unchecked:
        raise ConfigurationError("--champion-url, --challenger-url and --unchecked-endpoints are for --backend "
                                 "endpoint.", hint="Add --backend endpoint, or leave them out to start the models here.")
    return None


def run_replay(args: argparse.Namespace, log) -> Outcome:
    # everything the command line can get wrong is checked before any server starts
    runtimes = parse_runtimes(args.runtime)
    urls = endpoint_urls(args)
    if args.requests is not None and args.requests < 1:
        raise ConfigurationError(f"--requests {args.requests} is not a number of requests.",
                                 hint="Give a whole number above 0, or leave it out to replay every request.")
    if args.percent is not None and not 0 < args.percent <= 100:
        raise ConfigurationError(f"--percent {args.percent} is not a percentage.", hint="Give a number in (0, 100].")
    selection = TrafficSelection(sample_size=args.requests, sample_percent=args.percent,
                                 start=_timestamp(args.start, "--start"), end=_timestamp(args.end, "--end"))
    settings = ReplaySettings(mode=args.mode, timing=args.timing, speed=args.speed, rate_per_s=args.rate,
                              concurrency=args.concurrency, batch_size=args.batch_size, timeout_s=args.timeout,
                              canary_steps=parse_canary_steps(args.canary_steps),
                              canary_max_error_rate=args.max_error_rate, canary_max_p95_ratio=args.max_p95_ratio,
                              canary_min_answers=args.canary_min_answers, split_key=args.split_key,
                              challenger_share=args.share, score_column=args.score_column)
    interactive = sys.stderr.isatty()

    def show(progress) -> None:
        print(("\r" if interactive else "") + render.progress_bar(progress), end="" if interactive else "\n",
              file=sys.stderr, flush=True)

    with _sandbox(args, backend=args.backend, endpoint_urls=urls, allowed_hosts=tuple(args.allow_host)) as sandbox:
        # every input is read and checked once, before any server starts: bad input costs seconds
        prepare = lambda: sandbox.prepare_replay(args.model, args.traffic, selection, settings, args.labels,
                                                 args.reference, args.label_column, task=args.task,
                                                 progress=lambda said: log(f"object storage: {said}"))
        try:
            prepared = prepare()
        except RegistryError:
            if sandbox.backend_name != "endpoint":
                raise
            prepared = None  # no MLflow signature: a V2 endpoint's metadata types the traffic once it answers
        for warning in prepared.validated.report.warnings if prepared else ():
            log(f"warning: {warning}")
        if prepared is not None and prepared.validated.report.checked_against:
            log(f"warning: checked against {prepared.validated.report.checked_against}")
        log(f"task: {prepared.task.task} ({prepared.task.source})" if prepared else "task: read once the endpoint answers")
        log(f"backend: {sandbox.backend_notice}")
        sandbox.start_servers(args.model, progress=lambda role, msg: log(f"{role}: {msg}"), runtimes=runtimes,
                              trust=tuple(args.trust_code), unchecked=args.unchecked_endpoints)
        handle = sandbox.begin_replay(prepared or prepare())
        follow(handle, show)
        if interactive:
            print(file=sys.stderr)
        if handle.error is not None:
            raise handle.error
        evidence = sandbox.evidence(handle.run_id)
        run_folder = sandbox.store.folder(handle.run_id)
    manifest = evidence.manifest
    return _finished(plain({"run_id": handle.run_id, "status": manifest.status, "reason": manifest.end_reason,
                   "mode": settings.mode, "timing": settings.timing, "task": evidence.task,
                   "task_source": evidence.task_source,
                   "canary": [dict(step) for step in manifest.summary.canary] or None,
                   "backend": sandbox.backend.name, "traffic": manifest.traffic.validation,
                   "requests": handle.progress.completed, "errors": handle.progress.errors,
                   "agreement": evidence.agreement.rate, "labelled": evidence.labelled,
                   "drifted_features": evidence.drifted_features, "dataset_drift": evidence.dataset_drift,
                   "runtimes": {role: {"runtime": m.runtime, "protocol": m.protocol, "endpoint": m.endpoint}
                                for role, m in manifest.models.items()},
                   "run_folder": str(run_folder), **evidence.headline()}))


def capacity_settings(args: argparse.Namespace) -> CapacitySettings:
    """The capacity run's options as settings; a bad one is a `ConfigurationError` (exit 2)."""
    percentile, _, milliseconds = str(args.objective).partition(":")
    try:
        latency_ms = float(milliseconds)
    except ValueError:
        raise ConfigurationError(f"--objective {args.objective} is not PERCENTILE:MS.",
                                 hint="Write it as p99:100 (p95 or p99, then milliseconds).") from None
    objective = Objective(percentile.strip().lower(), latency_ms, args.max_error_rate)
    ramp = RampSettings(start_rate=args.start_rate, growth=args.growth, max_rate=args.max_rate, step_s=args.step_s,
                        refine_steps=args.refine_steps, min_requests=args.min_requests)
    spike = None if args.no_spike else SpikeSettings(multiple=args.spike_multiple, base_rate=args.spike_base,
                                                     spike_s=args.spike_s)
    prices = None
    if args.price_vcpu_hour is not None or args.price_gb_hour is not None or args.currency:
        if args.price_vcpu_hour is None:
            raise ConfigurationError("A price needs --price-vcpu-hour (and --currency).",
                                     hint="For example --price-vcpu-hour 0.05 --price-gb-hour 0.005 --currency USD.")
        prices = Prices(args.price_vcpu_hour, args.price_gb_hour if args.price_gb_hour is not None else 0.0,
                        args.currency or "")
    return CapacitySettings(objective=objective, ramp=ramp, repeats=args.repeats, spike=spike, prices=prices,
                            peak_rate=args.peak_rate, timeout_s=args.timeout)


def run_capacity(args: argparse.Namespace, log) -> Outcome:
    """Each model alone under the ramp and the spike; the result is kept for the gate and the report."""
    settings = capacity_settings(args)  # every option checked before anything is read or started
    runtimes = parse_runtimes(args.runtime)
    urls = endpoint_urls(args)
    if args.traffic is not None and not is_remote(args.traffic) and not Path(args.traffic).is_file():
        raise ConfigurationError(f"The traffic file {args.traffic} does not exist.",
                                 hint="Give the path of recorded traffic (CSV, Parquet or JSON Lines).")
    with _sandbox(args, backend=args.backend, endpoint_urls=urls, allowed_hosts=tuple(args.allow_host)) as sandbox:
        prices = sandbox.policy_for(args.model).capacity_prices
        if settings.prices is None and prices is not None:  # the model's policy prices what the flags did not
            settings = replace(settings, prices=Prices(*prices))
        prepared = sandbox.check_capacity(args.model, args.traffic, settings, runtimes, tuple(args.trust_code))
        log(f"backend: {sandbox.backend_notice}")
        result = sandbox.run_capacity(prepared, progress=log)
    data = plain(result.as_dict())
    return Outcome(data, render.capacity_text(data))


def _finished(data: dict[str, Any]) -> Outcome:
    """A run's summary; exit 1 when it did not finish cleanly (degraded, aborted, cancelled, failed)."""
    return Outcome(data, exit_code=1 if data.get("status") in UNFINISHED_OUTCOMES else 0)


# passed (with or without warnings) 0; failed 1; not yet 5: blocked as a failure is, but a pipeline
# can tell "collect more labels and ask again" from "the challenger is worse"
GATE_EXIT = {PASSED: 0, WARNED: 0, FAILED: 1, NOT_YET: 5}


def run_gate(args: argparse.Namespace, log) -> Outcome:
    """The verdict as one JSON-ready dict (run id, policy and its SHA-256, every check, the labels
    a "not yet" needs); exit 0 passed, 1 failed, 5 not yet."""
    with _sandbox(args) as sandbox:
        # a bad policy is refused before anything is read
        policy = sandbox.policy_for(args.model, args.policy) if args.policy else None
        evidence = sandbox.evidence(resolve_run(sandbox, args.model, args.run))
        verdict = sandbox.gate(evidence, policy)
        summary = {**verdict.as_dict(), "model": args.model, "quality": plain(_realised_quality(evidence)),
                   "estimated_quality": plain(evidence.estimated.as_dict()) if evidence.estimated else None}
        if args.report:
            summary["report"] = sandbox.report(evidence, policy, Path(args.report)).as_record()
    return Outcome(summary, render.gate_text(summary), GATE_EXIT[verdict.status])


def _realised_quality(evidence) -> dict | None:
    """Quality on the labelled requests, per model, beside the estimate in `gate --json`."""
    if evidence.quality is None:
        return None
    return {"labelled": evidence.labelled, "per_model": evidence.quality.reset_index().to_dict("records")}


def run_promote(args: argparse.Namespace, log) -> Outcome:
    _confirmed(args)
    with _sandbox(args) as sandbox:
        policy = sandbox.policy_for(args.model, args.policy) if args.policy else None
        evidence = sandbox.evidence(resolve_run(sandbox, args.model, args.run))
        record = sandbox.promote(evidence, args.reviewer, args.reason, True, args.override, policy,
                                 credentials=_reviewer_credentials(sandbox, args.reviewer))
    return Outcome(render.record_json("promoted", record), render.record_text("promoted", record))


def run_rollback(args: argparse.Namespace, log) -> Outcome:
    _confirmed(args)
    with _sandbox(args) as sandbox:
        record = sandbox.rollback(args.model, args.reviewer, args.reason, True,
                                  credentials=_reviewer_credentials(sandbox, args.reviewer))
    return Outcome(render.record_json("rolled back", record), render.record_text("rolled back", record))


def _secret(variable: str, prompt: str) -> str:
    """A password from the environment, else typed at a prompt; never from the command line,
    where every user of the machine could read it."""
    value = os.environ.get(variable, "")
    if not value and sys.stdin.isatty():
        value = getpass.getpass(prompt)
    if not value:
        raise ConfigurationError(f"No password was given ({variable} is unset and there is no terminal to ask on).",
                                 hint=f"Set {variable} in the environment, or run the command in a terminal.")
    return value


def _reviewer_credentials(sandbox: Sandbox, reviewer: str) -> Credentials | None:
    if not sandbox.team_mode:
        return None
    return Credentials(reviewer, _secret("STAGING_REVIEWER_PASSWORD", f"MLflow password for {reviewer}: "))


def run_team(args: argparse.Namespace, log) -> Outcome:
    settings = Settings.from_env()
    if settings.tracking_uri is None or not settings.tracking_uri.startswith(("http://", "https://")):
        raise ConfigurationError("Team mode's users live on a shared tracking server, and STAGING_TRACKING_URI names "
                                 "none.", hint="Set STAGING_TRACKING_URI to the server (http://127.0.0.1:5000).")
    password = _secret("STAGING_NEW_USER_PASSWORD", f"password for the new user {args.user}: ")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    return Outcome(add_user(settings.tracking_uri, args.user, password, models, args.permission))


def run_audit(args: argparse.Namespace, log) -> Outcome:
    with _sandbox(args) as sandbox:
        verification = sandbox.verify_audit()
    return Outcome(verification.as_dict(), render.verification_text(verification), 0 if verification.ok else 1)


def attach_labels(args: argparse.Namespace, log) -> Outcome:
    """Late labels joined to a run's requests and kept by it; what matched, as one JSON object."""
    with _sandbox(args) as sandbox:
        run_id = resolve_run(sandbox, args.model, args.run)
        facts = sandbox.attach_labels(run_id, args.file, args.label_column)
        evidence = sandbox.evidence(run_id)
    log(f"labels: {facts['matched']:,} requests labelled; {facts['unmatched_labels']:,} labels named no request of "
        f"the run; {facts['unreadable_lines']:,} unreadable lines skipped")
    return Outcome(plain({"run_id": run_id, **facts, "labelled": evidence.labelled, **evidence.headline()}))


def run_history(args: argparse.Namespace, log) -> Outcome:
    with _sandbox(args) as sandbox:
        if args.model not in sandbox.model_names():
            raise ConfigurationError(f"The registry has no model '{args.model}'.",
                                     hint=f"Registered models: {', '.join(sandbox.model_names()) or 'none'}.")
        periods, mismatch = sandbox.history(args.model)
        verification = sandbox.verify_audit()
    return Outcome(render.history_json(args.model, periods, mismatch, verification),
                   render.history_text(args.model, periods, mismatch, verification))


def run_explain(args: argparse.Namespace, log) -> Outcome:
    """Each model's attributions on the run's disagreements and a sample of the rest, through its
    served endpoint; stored with the run (shown again, not recomputed, unless --again)."""
    settings = ExplainSettings(disagreements=args.disagreements, others=args.others, background=args.background,
                               time_limit_s=args.time_limit, scale=args.scale, permutations=args.permutations)
    urls = endpoint_urls(args)
    with _sandbox(args, backend=args.backend, endpoint_urls=urls, allowed_hosts=tuple(args.allow_host)) as sandbox:
        run_id = resolve_run(sandbox, args.model, args.run)
        stored = sandbox.explanation(run_id)
        if stored is None or not stored.finished or args.again:
            manifest = sandbox.run(run_id)
            log(f"explaining run {run_id}: {manifest.champion.uri} against {manifest.challenger.uri}")
            if sandbox.serve_run(run_id):
                log("started their servers")
            handle = sandbox.start_explanation(sandbox.check_explanation(run_id, settings))
            follow(handle, lambda progress: log(f"explained {progress[0]:,} of {progress[1]:,} rows"))
            stored = handle.result()
    if stored is None:
        raise ConfigurationError(f"The explanation of run {run_id} left no result.",
                                 hint="Its log is explanation/explain.log in the run folder.")
    data = plain({"run_id": run_id, **stored.as_dict()})
    return Outcome(data, render.explanation_text(data, stored), 1 if stored.status == "failed" else 0)


COMMANDS = {"base-image": build_base, "app-image": build_app, "demo": run_demo, "replay": run_replay,
            "capacity": run_capacity, "explain": run_explain,
            "gate": run_gate, "promote": run_promote, "rollback": run_rollback, "audit": run_audit,
            "history": run_history, "prune": prune_images, "labels": attach_labels, "team": run_team}
