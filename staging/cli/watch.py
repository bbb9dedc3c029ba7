"""`python -m staging watch`: the watcher's options checked, the webhook registered if asked, then
listening until stopped (Ctrl-C or SIGTERM; a restart resumes the queue).

The shared secret comes from STAGING_WEBHOOK_SECRET and the outgoing hook from
STAGING_NOTIFY_URL, never from the command line, where every user of the machine could read
them. Every option, the policy and the notification URL are checked before it listens.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path

from ..backends.mlserver import parse_runtimes
from ..errors import ConfigurationError
from ..home import SandboxHome
from ..registry.webhooks import register_webhook, server_settings_text
from ..runs.settings import ReplaySettings
from ..sandbox import Sandbox
from ..serving.destinations import check_notify_url
from ..settings import Settings
from ..settings import allowed_hosts as host_list
from ..traffic.remote import is_remote
from ..watch import WatchRule, parse_duration
from ..watcher import Watcher, WatchSettings
from ..watcher.service import watch_log_path
from .commands import Outcome, endpoint_urls

SECRET_VARIABLE, NOTIFY_VARIABLE = "STAGING_WEBHOOK_SECRET", "STAGING_NOTIFY_URL"


def add_watch_options(watch: argparse.ArgumentParser) -> None:
    watch.add_argument("--model", help="the registered model to watch (leave out with --register to only register)")
    watch.add_argument("--traffic",
                       help="what it is compared on: a file, or an s3:// (any fsspec) URL of an object or a prefix")
    watch.add_argument("--last", metavar="DURATION",
                       help="only the traffic of the last DURATION before each comparison (24h, 90m, 7d); for a "
                            "SageMaker capture prefix only those hours are listed")
    watch.add_argument("--requests", type=int, help="a seeded random sample of this many requests")
    watch.add_argument("--labels", help="labels for the traffic (a file or URL with request_id and the outcome)")
    watch.add_argument("--reference", help="training data for drift (a file or URL)")
    watch.add_argument("--policy", help="a TOML policy (default: HOME/policies/<model>.toml, else the sandbox's)")
    watch.add_argument("--on", choices=("challenger", "version"), default="challenger",
                       help="challenger: compare when @challenger is set on a version (the default); version: "
                            "every new version, as the challenger, moving no alias")
    watch.add_argument("--every", metavar="DURATION",
                       help="also compare the current champion and challenger on this schedule (24h)")
    watch.add_argument("--settle", default="3s", metavar="DURATION",
                       help="how long a queued comparison waits for a newer version first (default 3s)")
    watch.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    watch.add_argument("--port", type=int, default=8787, help="port to listen on (default 8787)")
    watch.add_argument("--register", action="store_true",
                       help="create (or update) the MLflow webhook on STAGING_TRACKING_URI first, and print the "
                            "tracking server's settings; with an admin's MLflow credentials in team mode")
    watch.add_argument("--public-url", help="the URL the tracking server reaches this watcher at "
                                            "(default http://HOST:PORT/webhook)")
    watch.add_argument("--runtime", help="mlflow or mlserver, for every role or per role")
    watch.add_argument("--trust-code", action="append", default=[], metavar="ROLE|NAME/VERSION",
                       help="run this model version's own code (a cloudpickled PythonModel)")
    watch.add_argument("--concurrency", type=int, default=2, help="requests in flight during a replay (default 2)")


def shared_secret() -> str:
    """The webhook's shared secret from the environment; one sentence when it is missing or short."""
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < 16:
        raise ConfigurationError(f"The watcher needs a shared secret of at least 16 characters in {SECRET_VARIABLE}: "
                                 "without one, anyone who can reach it could start comparisons.",
                                 hint=f"export {SECRET_VARIABLE}=$(python -c 'import secrets; "
                                      "print(secrets.token_urlsafe(32))'), the same for the watcher and --register.")
    return secret


def watch_settings(args: argparse.Namespace) -> WatchSettings:
    """The options as settings; a bad one is a `ConfigurationError` (exit 2), before anything listens."""
    secret = shared_secret()
    if not args.model or not args.traffic:
        raise ConfigurationError("The watcher needs --model and --traffic: which model it watches, and the traffic "
                                 "it compares on.", hint="Add both, or give --register alone to only register the "
                                                         "MLflow webhook.")
    if not is_remote(args.traffic) and not Path(args.traffic).is_file():
        raise ConfigurationError(f"The traffic file {args.traffic} does not exist.",
                                 hint="Give recorded traffic (CSV, Parquet or JSON Lines), or an s3:// URL.")
    if args.concurrency < 1 or not 0 < args.port < 65536:
        raise ConfigurationError("--concurrency must be above 0 and --port a port number.",
                                 hint="For example --concurrency 2 --port 8787.")
    window = parse_duration(args.last, "--last") / 3600.0 if args.last else None
    rule = WatchRule(args.model, args.traffic, window, args.requests, args.labels, args.reference, args.policy,
                     args.on)
    settings = Settings.from_env()
    allowed = host_list(settings.allowed_hosts, tuple(args.allow_host))
    notify = os.environ.get(NOTIFY_VARIABLE, "").strip() or None
    if notify:
        check_notify_url(notify, allowed)
    return WatchSettings(
        rules={rule.model: rule}, secret=secret, host=args.host, port=args.port,
        every_s=parse_duration(args.every, "--every") if args.every else None,
        settle_s=parse_duration(args.settle, "--settle"), replay=ReplaySettings(concurrency=args.concurrency),
        backend=args.backend, endpoint_urls=endpoint_urls(args), allowed_hosts=tuple(args.allow_host),
        runtimes=parse_runtimes(args.runtime), trust=tuple(args.trust_code), notify_url=notify)


def _log_to_file(path: Path) -> None:
    """The watcher's lines (and any traceback of a failed job) in HOME/logs/watcher.log as well."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("staging.watcher")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, systemd) stops as Ctrl-C does: the queue stays on disk


def register(args: argparse.Namespace, secret: str, log) -> dict[str, str]:
    """The MLflow webhook to this watcher's URL, created or updated; the server's settings printed."""
    url = args.public_url or f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}/webhook"
    registered = register_webhook(Settings.from_env().tracking_uri or "", url, secret)
    log(f"registered the MLflow webhook {registered['webhook_id']} to {url} ({registered['events']})")
    for line in server_settings_text().splitlines():
        log(line)
    return registered


def run_watch(args: argparse.Namespace, log) -> Outcome:
    if args.register and not args.model and not args.traffic:  # only register (compose's setup does, as admin)
        return Outcome({"registered": register(args, shared_secret(), log)})
    settings = watch_settings(args)
    home = SandboxHome.from_env(args.home)
    with Sandbox(home, backend="process") as box:  # the policy and the model, checked before anything listens
        box.policy_for(args.model, args.policy)
        if args.model not in box.model_names():
            log(f"note: '{args.model}' is not registered yet; the watcher waits for its first versions")
    registered = register(args, settings.secret, log) if args.register else None
    signal.signal(signal.SIGTERM, _terminated)
    _log_to_file(watch_log_path(home))
    watcher = Watcher(home, settings, lambda message: log(message))
    watcher.serve()
    return Outcome({"stopped": True, "registered": registered, "jobs": len(watcher.queue.jobs())},
                   f"stopped; {len(watcher.queue.jobs())} job(s) in {home.watch_dir / 'queue.json'}")
