"""The command line: the app's path without a browser (`python -m staging --help`).

    python -m staging demo [--backend auto|docker|process] [--requests N] [--scenario credit|delivery]
                           [--concurrency N] [--replica] [--home DIR] [--json]
    python -m staging replay --model NAME --traffic FILE [--labels FILE] [--reference FILE]
    python -m staging labels FILE --run RUN_ID [--label-column NAME]
                             [--backend auto|docker|process|endpoint] [--requests N] [--percent P]
                             [--start T] [--end T] [--mode shadow|canary|ab] [--timing max|recorded|rate]
                             [--speed X] [--rate R] [--concurrency N] [--batch-size N]
                             [--canary-steps 5,25,50,100] [--max-error-rate E] [--max-p95-ratio R]
                             [--canary-min-answers N]
                             [--split-key COLUMN] [--share S] [--timeout S] [--home DIR] [--json]
    python -m staging gate --model NAME [--run RUN_ID|latest] [--policy FILE] [--report DIR] [--home DIR] [--json]
    python -m staging promote --model NAME --run RUN_ID --reviewer WHO --reason WHY --yes [--override]
                              [--policy FILE] [--home DIR] [--json]
    python -m staging rollback --model NAME --reviewer WHO --reason WHY --yes [--home DIR] [--json]
    python -m staging team add-user USER [--models A,B] [--permission READ|EDIT|MANAGE]
    python -m staging audit verify [--home DIR] [--json]
    python -m staging history --model NAME [--home DIR] [--json]
    python -m staging prune [--keep 3] [--json]
    python -m staging base-image [--force]
    python -m staging app-image

`demo`: bootstrap -> start both servers -> shadow replay -> compare -> drift. `replay`: the
same replay as the Replay page, for a registered model's champion and challenger, from a
terminal or a CI pipeline: a progress bar on stderr, one JSON summary on stdout, and exit
code 0 when the run finished, 1 when it ended degraded, aborted (a canary gate), cancelled
or failed, 2 on bad input. `gate`: a run's verdict under a promotion policy, exit code 0
when it passed (warnings allowed), 1 when a check failed, 2 on bad input. `promote`,
`rollback`, `audit verify` and `history`: exit 0 on success, 1 when refused (a failed gate,
a conflict, a broken audit chain), 2 on bad input, with one line saying why. In team mode
(STAGING_TEAM_MODE=1) `--reviewer` is your MLflow user name and the password comes from
STAGING_REVIEWER_PASSWORD or a prompt; `team add-user`, run as the MLflow admin, creates a user
and grants it a permission on models (its password from STAGING_NEW_USER_PASSWORD or a prompt).
Either way the run is written exactly as the app writes it, so it appears on its pages.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from pathlib import Path

from .backends import BACKEND_NAMES
from .backends.mlserver import parse_runtimes
from .errors import ConfigurationError, PromotionError, StagingError
from .home import SandboxHome
from .jsonable import plain
from .replay import MODES, TIMINGS, ReplaySettings, parse_canary_steps
from .replay.handle import follow
from .runs import UNFINISHED_OUTCOMES
from .sandbox import Sandbox, TrafficSelection
from .scenarios import SCENARIOS
from .settings import Settings
from .team import Credentials, add_user


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m staging", description="Staging sandbox, headless.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="bootstrap, start, shadow replay, compare and drift, in one go")
    demo.add_argument("--backend", choices=[n for n in BACKEND_NAMES if n != "endpoint"], default="auto")
    demo.add_argument("--requests", type=int, default=1000, help="recorded requests to replay (default 1000)")
    demo.add_argument("--scenario", choices=sorted(SCENARIOS), default="credit")
    demo.add_argument("--concurrency", type=int, default=2)
    demo.add_argument("--replica", action="store_true", help="also run a second champion: the noise floor")
    demo.add_argument("--runtime", help=RUNTIME_HELP)
    demo.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
    demo.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    replay = commands.add_parser("replay", help="replay recorded traffic against a model's champion and challenger")
    replay.add_argument("--model", required=True, help="registered model name")
    replay.add_argument("--traffic", required=True, help="CSV, Parquet or JSON Lines (MLflow payloads, SageMaker "
                                                         "Data Capture, KServe CloudEvents)")
    replay.add_argument("--labels", help="late labels: a file with request_id and the target column")
    replay.add_argument("--label-column", help="the labels' outcome column, when it is not the model's target")
    replay.add_argument("--reference", help="training data for drift")
    replay.add_argument("--backend", choices=BACKEND_NAMES, default="auto")
    replay.add_argument("--runtime", help=RUNTIME_HELP)
    replay.add_argument("--champion-url", help="endpoint backend: the champion's base URL, MLflow's "
                                               "(http://HOST:PORT) or V2's (http://HOST/v2/models/NAME)")
    replay.add_argument("--challenger-url", help="endpoint backend: the challenger's base URL, in either form")
    replay.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="endpoint backend: a host traffic may be sent to besides loopback (repeatable; "
                             "also STAGING_ALLOWED_HOSTS)")
    replay.add_argument("--requests", type=int, help="a seeded random sample of this many requests")
    replay.add_argument("--percent", type=float, help="keep this percent of requests (chosen by request id)")
    replay.add_argument("--start", help="only requests at or after this time (ISO 8601)")
    replay.add_argument("--end", help="only requests before this time (ISO 8601)")
    replay.add_argument("--mode", choices=MODES, default="shadow",
                        help="shadow: both models get every request; canary: a ramped share to the challenger, "
                             "with gates; ab: a sticky split by --split-key")
    replay.add_argument("--timing", choices=TIMINGS, default="max",
                        help="max: as fast as answered (--concurrency in flight); recorded: the recorded spacing "
                             "divided by --speed; rate: --rate requests per second, open loop")
    replay.add_argument("--speed", type=float, default=1.0, help="recorded timing: 2 replays twice as fast")
    replay.add_argument("--rate", type=float, default=50.0, help="rate timing: requests per second")
    replay.add_argument("--concurrency", type=int, default=2)
    replay.add_argument("--batch-size", type=int, default=1, help="rows per request (batch mode above 1)")
    replay.add_argument("--canary-steps", default="5,25,50,100", help="challenger percentages, in order")
    replay.add_argument("--max-error-rate", type=float, default=0.02, help="canary gate on the challenger's errors")
    replay.add_argument("--max-p95-ratio", type=float, default=1.5,
                        help="canary gate: challenger p95 over champion p95")
    replay.add_argument("--canary-min-answers", type=int,
                        help="canary: challenger answers a step needs to be judged (default: the model's policy)")
    replay.add_argument("--split-key", help="A/B: the column whose hash picks the model (default: request id)")
    replay.add_argument("--share", type=float, default=0.5, help="A/B: share of keys that meet the challenger")
    replay.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    replay.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
    replay.add_argument("--json", action="store_true", help="one line of JSON (the default is indented)")
    gate = commands.add_parser("gate", help="a run's verdict under a promotion policy (exit 0 passed, 1 failed)")
    gate.add_argument("--model", required=True, help="registered model name")
    gate.add_argument("--run", default="latest", help="a run id, or latest (the default): the model's newest run")
    gate.add_argument("--policy", help="a TOML policy file (default: HOME/policies/<model>.toml, else the "
                                       "sandbox's default, staging/gate/default.toml)")
    gate.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
    gate.add_argument("--report", help="also write the run's offline report (report.html, report.json) here")
    gate.add_argument("--json", action="store_true", help="one JSON object: run id, policy SHA-256, every check")
    promote = commands.add_parser("promote", help="move @champion to a run's challenger on its gate's verdict")
    promote.add_argument("--model", required=True)
    promote.add_argument("--run", required=True, help="the run whose evidence the decision rests on")
    promote.add_argument("--reviewer", required=True, help="your name; in team mode your MLflow user name (the "
                                                           "password comes from STAGING_REVIEWER_PASSWORD or a prompt)")
    promote.add_argument("--reason", required=True)
    promote.add_argument("--yes", action="store_true", help="confirm the move (required)")
    promote.add_argument("--override", action="store_true", help="promote despite a failed gate (say why in --reason)")
    promote.add_argument("--policy", help="a TOML policy file (default: the model's, else the sandbox's)")
    rollback = commands.add_parser("rollback", help="put @champion back where the last promotion found it")
    rollback.add_argument("--model", required=True)
    rollback.add_argument("--reviewer", required=True, help="as for promote")
    rollback.add_argument("--reason", required=True)
    rollback.add_argument("--yes", action="store_true", help="confirm the move (required)")
    team = commands.add_parser("team", help="team mode's users (run as the MLflow admin)")
    team.add_argument("action", choices=["add-user"])
    team.add_argument("user", help="the MLflow user name to create (the password comes from "
                                   "STAGING_NEW_USER_PASSWORD or a prompt, never the command line)")
    team.add_argument("--models", default="", help="comma-separated registered models to grant the permission on")
    team.add_argument("--permission", default="EDIT", choices=["READ", "EDIT", "MANAGE"],
                      help="EDIT or MANAGE may promote; READ may only look (default EDIT)")
    audit = commands.add_parser("audit", help="check the audit chain")
    audit.add_argument("action", choices=["verify"])
    history = commands.add_parser("history", help="who was champion when, and why")
    history.add_argument("--model", required=True)
    for sub in (promote, rollback, audit, history):
        sub.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
        sub.add_argument("--json", action="store_true", help="one JSON object")
    labels = commands.add_parser("labels", help="attach labels that arrived late to a finished run")
    labels.add_argument("file", help="CSV, Parquet or JSON Lines (SageMaker ground truth, or records) with a "
                                     "request id and the outcome")
    labels.add_argument("--run", required=True, help="the run id (python -m staging history, or the app's run list)")
    labels.add_argument("--label-column", help="the column that holds the outcome, when it is not the model's target")
    labels.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
    labels.add_argument("--json", action="store_true", help="one JSON object")
    prune = commands.add_parser("prune", help="remove model images but those of each model's newest versions")
    prune.add_argument("--keep", type=int, default=3, help="versions kept per model (default 3)")
    prune.add_argument("--json", action="store_true", help="one JSON object")
    base = commands.add_parser("base-image", help="build the containers' base image from Debian's packages")
    base.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    commands.add_parser("app-image", help="build the app's image for compose.yaml (hermetic, from a wheelhouse)")
    return parser


def build_app(args: argparse.Namespace, log) -> dict:
    from pathlib import Path

    from .backends.docker_backend import docker_client
    from .backends.images import build_app_image

    client = docker_client()
    image = client.images.get(build_app_image(client, Path(__file__).resolve().parent.parent, log))
    return {"image": image.tags, "size_mb": round(image.attrs["Size"] / 1e6)}


def prune_images(args: argparse.Namespace, log) -> dict:
    from .backends.docker_backend import docker_client
    from .backends.images import prune_model_images

    result = prune_model_images(docker_client(), args.keep, log)
    log(f"removed {len(result['removed'])} model image(s), {result['freed_mb']} MB freed")
    return result


def build_base(args: argparse.Namespace, log) -> dict:
    from .backends.docker_backend import docker_client
    from .backends.images import BUILT_BASE_IMAGE, build_base_image, image_exists

    client = docker_client()
    if image_exists(client, BUILT_BASE_IMAGE) and not args.force:
        log(f"{BUILT_BASE_IMAGE} is already there (use --force to rebuild)")
    else:
        build_base_image(client, log)
    image = client.images.get(BUILT_BASE_IMAGE)
    return {"image": BUILT_BASE_IMAGE, "id": image.id, "size_mb": round(image.attrs["Size"] / 1e6)}


def run_demo(args: argparse.Namespace, log) -> dict:
    scenario = SCENARIOS[args.scenario]
    if args.requests < 1 or args.concurrency < 1:
        raise ConfigurationError("--requests and --concurrency must be whole numbers above 0.",
                                 hint="For example --requests 1000 --concurrency 2.")
    runtimes = parse_runtimes(args.runtime)
    with Sandbox(SandboxHome.from_env(args.home), backend=args.backend) as sandbox:
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
    return plain({"backend": sandbox.backend.name, "run_id": handle.run_id,
                   "status": evidence.manifest.status, "requests": handle.progress.completed,
                   "agreement": evidence.agreement.rate, "drifted_features": evidence.drifted_features,
                   "dataset_drift": evidence.dataset_drift, "labelled": evidence.labelled,
                   "noise_floor_agreement": evidence.noise_floor.rate if evidence.noise_floor else None,
                   "runtimes": {role: {"runtime": m.runtime, "protocol": m.protocol}
                                for role, m in evidence.manifest.models.items()},
                   **evidence.headline()})


def progress_bar(progress, width: int = 30) -> str:
    done = int(width * progress.fraction)
    return (f"[{'#' * done}{'.' * (width - done)}] {progress.fraction:4.0%} {progress.completed:,}/{progress.total:,} "
            f"requests · {progress.throughput:,.0f} answers/s · {progress.errors:,} errors")


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


RUNTIME_HELP = ("what serves the models: mlflow (MLflow's scoring server, the default) or mlserver (MLServer, "
                "V2), for every role or per role: champion=mlflow,challenger=mlserver")


def endpoint_urls(args: argparse.Namespace) -> dict[str, str] | None:
    urls = {role: url for role, url in (("champion", args.champion_url), ("challenger", args.challenger_url)) if url}
    if args.backend == "endpoint":
        if len(urls) < 2:
            raise ConfigurationError("--backend endpoint needs --champion-url and --challenger-url.",
                                     hint="Give each model's base URL: http://HOST:PORT for MLflow's scoring server, "
                                          "http://HOST/v2/models/NAME for a V2 server (KServe, MLServer, Triton).")
        return urls
    if urls:
        raise ConfigurationError("--champion-url and --challenger-url are for --backend endpoint.",
                                 hint="Add --backend endpoint, or leave the URLs out to start the models here.")
    return None


def run_replay(args: argparse.Namespace, log) -> dict:
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
                              challenger_share=args.share)
    interactive = sys.stderr.isatty()

    def show(progress) -> None:
        print(("\r" if interactive else "") + progress_bar(progress), end="" if interactive else "\n",
              file=sys.stderr, flush=True)

    with Sandbox(SandboxHome.from_env(args.home), backend=args.backend, endpoint_urls=urls,
                 allowed_hosts=tuple(args.allow_host)) as sandbox:
        # the files are checked before any server starts: bad input costs seconds, not a start
        sandbox.check_replay_inputs(args.model, args.traffic, args.labels, args.reference, args.label_column,
                                    selection)
        log(f"backend: {sandbox.backend_notice}")
        sandbox.start_servers(args.model, progress=lambda role, msg: log(f"{role}: {msg}"), runtimes=runtimes)
        handle = sandbox.begin_replay(args.model, args.traffic, selection, settings,
                                      labels_path=args.labels, reference_path=args.reference,
                                      label_column=args.label_column)
        follow(handle, show)
        if interactive:
            print(file=sys.stderr)
        if handle.error is not None:
            raise handle.error
        evidence = sandbox.evidence(handle.run_id)
        run_folder = sandbox.store.folder(handle.run_id)
    manifest = evidence.manifest
    return plain({"run_id": handle.run_id, "status": manifest.status, "reason": manifest.end_reason,
                   "mode": settings.mode, "timing": settings.timing,
                   "canary": [dict(step) for step in manifest.summary.canary] or None,
                   "backend": sandbox.backend.name, "traffic": manifest.traffic.validation,
                   "requests": handle.progress.completed, "errors": handle.progress.errors,
                   "agreement": evidence.agreement.rate, "labelled": evidence.labelled,
                   "drifted_features": evidence.drifted_features, "dataset_drift": evidence.dataset_drift,
                   "runtimes": {role: {"runtime": m.runtime, "protocol": m.protocol, "endpoint": m.endpoint}
                                for role, m in manifest.models.items()},
                   "run_folder": str(run_folder), **evidence.headline()})


def run_gate(args: argparse.Namespace, log) -> dict:
    """The verdict as one JSON-ready dict (run id, policy and its SHA-256, every check)."""
    policy = None
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        if args.policy:
            policy = sandbox.policy_for(args.model, args.policy)  # a bad policy is refused before anything is read
        runs = sandbox.runs(args.model)
        if args.run == "latest":
            if not runs:
                known = sandbox.model_names()
                raise ConfigurationError(
                    f"There is no run of '{args.model}' in {sandbox.home.root}." if args.model in known else
                    f"The registry has no model '{args.model}'.",
                    hint="Replay traffic first (python -m staging replay ...), or check --model and --home." if
                    args.model in known else f"Registered models: {', '.join(known) or 'none'}.")
            run_id = runs[0].run_id
        else:
            run_id = args.run
            if run_id not in {r.run_id for r in runs}:
                raise ConfigurationError(f"There is no run '{run_id}' of '{args.model}'.",
                                         hint="Give a run id that `python -m staging replay` printed, or --run latest.")
        evidence = sandbox.evidence(run_id)
        verdict = sandbox.gate(evidence, policy)
        summary = {**verdict.as_dict(), "model": args.model, "quality": plain(_realised_quality(evidence)),
                   "estimated_quality": plain(evidence.estimated.as_dict()) if evidence.estimated else None}
        if args.report:
            files = sandbox.report(evidence, policy, Path(args.report))
            summary["report"] = files.as_record()
    return summary


def _realised_quality(evidence) -> dict | None:
    """Quality on the labelled requests, per model, beside the estimate in `gate --json`."""
    if evidence.quality is None:
        return None
    return {"labelled": evidence.labelled, "per_model": evidence.quality.reset_index().to_dict("records")}


def _known_run(sandbox: Sandbox, model: str, run_id: str) -> str:
    if run_id not in {r.run_id for r in sandbox.runs(model)}:
        raise ConfigurationError(f"There is no run '{run_id}' of '{model}'.",
                                 hint="Give a run id that `python -m staging replay` printed.")
    return run_id


def _confirmed(args: argparse.Namespace) -> None:
    if not args.yes:
        raise ConfigurationError(f"{args.command} moves the champion alias and needs --yes to confirm it.",
                                 hint="Add --yes once you have read the gate's verdict.")


def run_promote(args: argparse.Namespace, log) -> dict:
    _confirmed(args)
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        policy = sandbox.policy_for(args.model, args.policy) if args.policy else None
        evidence = sandbox.evidence(_known_run(sandbox, args.model, args.run))
        record = sandbox.promote(evidence, args.reviewer, args.reason, True, args.override, policy,
                                 credentials=_reviewer_credentials(sandbox, args.reviewer))
    return {"status": "promoted", **record}


def run_rollback(args: argparse.Namespace, log) -> dict:
    _confirmed(args)
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        record = sandbox.rollback(args.model, args.reviewer, args.reason, True,
                                  credentials=_reviewer_credentials(sandbox, args.reviewer))
    return {"status": "rolled back", **record}


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


def run_team(args: argparse.Namespace, log) -> dict:
    settings = Settings.from_env()
    if settings.tracking_uri is None or not settings.tracking_uri.startswith(("http://", "https://")):
        raise ConfigurationError("Team mode's users live on a shared tracking server, and STAGING_TRACKING_URI names "
                                 "none.", hint="Set STAGING_TRACKING_URI to the server (http://127.0.0.1:5000).")
    password = _secret("STAGING_NEW_USER_PASSWORD", f"password for the new user {args.user}: ")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    return add_user(settings.tracking_uri, args.user, password, models, args.permission)


def run_audit(args: argparse.Namespace, log) -> dict:
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        return sandbox.verify_audit().as_dict()


def attach_labels(args: argparse.Namespace, log) -> dict:
    """Late labels joined to a run's requests and kept by it; what matched, as one JSON object."""
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        if args.run not in {r.run_id for r in sandbox.store.list_runs()}:
            raise ConfigurationError(f"There is no run '{args.run}' in {sandbox.home.root}.",
                                     hint="Give a run id that `python -m staging replay` printed.")
        facts = sandbox.attach_labels(args.run, args.file, args.label_column)
        evidence = sandbox.evidence(args.run)
    log(f"labels: {facts['matched']:,} requests labelled; {facts['unmatched_labels']:,} labels named no request of "
        f"the run; {facts['unreadable_lines']:,} unreadable lines skipped")
    return plain({"run_id": args.run, **facts, "labelled": evidence.labelled, **evidence.headline()})


def run_history(args: argparse.Namespace, log) -> dict:
    with Sandbox(SandboxHome.from_env(args.home), backend="process") as sandbox:
        if args.model not in sandbox.model_names():
            raise ConfigurationError(f"The registry has no model '{args.model}'.",
                                     hint=f"Registered models: {', '.join(sandbox.model_names()) or 'none'}.")
        periods, mismatch = sandbox.history(args.model)
        verification = sandbox.verify_audit()
    return {"model": args.model, "periods": [p.__dict__ for p in periods], "registry_disagrees": mismatch,
            "chain": verification.as_dict()}


def gate_text(summary: dict) -> str:
    """The verdict for a person at a terminal: one line per check."""
    lines = [f"Gate for run {summary['run_id']} of {summary['model']}: {summary['status'].upper()} "
             f"(policy '{summary['policy']['name']}', sha256 {summary['policy']['sha256'][:12]})"]
    lines += [f"  {check['status']:<13} {check['name']}: {check['sentence']}" for check in summary["checks"]]
    return "\n".join(lines)


def plain_text(command: str, summary: dict) -> str:
    """What promote, rollback, audit verify and history say to a person at a terminal."""
    if command == "audit":
        return summary["sentence"] if summary["ok"] else "\n".join(["The audit log does not verify:",
                                                                      *(f"  {p}" for p in summary["problems"])])
    if command == "history":
        lines = [f"Champion of {summary['model']} over time (newest last); chain: {summary['chain']['sentence']}"]
        for p in summary["periods"]:
            lines.append(f"  v{p['version']}: from {p['since'] or 'before the records'} until {p['until'] or 'now'}"
                         f" ({p['action']}{', ' + p['reviewer'] if p['reviewer'] else ''}"
                         f"{': ' + p['reason'] if p['reason'] else ''}; gate {p['verdict'] or '—'}"
                         f"{'; overridden' if p['override'] else ''})")
        if summary["registry_disagrees"]:
            lines.append(f"  note: {summary['registry_disagrees']}")
        return "\n".join(lines)
    return (f"{summary['status']}: {summary['model']}@champion v{summary['from_version']} -> v{summary['to_version']} "
            f"(record {summary['id']}, hash {summary['hash'][:12]})")


def cli_log_path(home_option: str | None) -> str:
    try:
        return str(SandboxHome.from_env(home_option).logs_dir / "cli.log")
    except StagingError:
        return "the home's logs/cli.log"


def quiet_libraries(home_option: str | None) -> None:
    """MLflow's and other libraries' warnings and log lines go to HOME/logs/cli.log, not to the
    terminal: stderr carries the command's own progress and its one-line errors only."""
    try:
        logs = SandboxHome.from_env(home_option).ensure().logs_dir
        handler: logging.Handler = logging.FileHandler(logs / "cli.log", encoding="utf-8")
    except (StagingError, OSError):
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.captureWarnings(True)
    for name in ("py.warnings", "mlflow", "alembic", "urllib3", "docker", "staging"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet = getattr(args, "json", False)
    started = time.monotonic()
    quiet_libraries(getattr(args, "home", None))

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        commands = {"base-image": build_base, "app-image": build_app, "demo": run_demo, "replay": run_replay,
                    "gate": run_gate, "promote": run_promote, "rollback": run_rollback, "audit": run_audit,
                    "history": run_history, "prune": prune_images, "labels": attach_labels, "team": run_team}
        summary = commands[args.command](args, log)
    except PromotionError as exc:  # refused, not bad input: a failed gate, a conflict, a broken chain
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except StagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return 2
    except Exception as exc:
        logging.getLogger("staging.cli").exception("%s failed", args.command)
        print(f"failed: {type(exc).__name__}: {str(exc)[:200]}. This is a fault of the sandbox or of a service it "
              f"uses, not of your input; the traceback is in {cli_log_path(getattr(args, 'home', None))}.",
              file=sys.stderr)
        return 3
    if args.command == "gate":
        print(json.dumps(summary) if quiet else gate_text(summary))
        return 0 if summary["passed"] else 1
    if args.command in ("promote", "rollback", "audit", "history"):
        print(json.dumps(summary) if quiet else plain_text(args.command, summary))
        return 1 if args.command == "audit" and not summary["ok"] else 0
    if quiet:
        print(json.dumps(summary))
    else:
        print(json.dumps(summary, indent=2))
    return 1 if summary.get("status") in UNFINISHED_OUTCOMES else 0
