"""The command line's grammar: every command, its options and their help, declared once.

`--home` and `--json` are shared by every command that reads a sandbox home (one parent parser),
and `--run` takes a run id or `latest` wherever a command names a run.
"""

from __future__ import annotations

import argparse

from ..backends import BACKEND_NAMES
from ..registry.scenarios import SCENARIOS
from ..runs.settings import MODES, TIMINGS
from .watch import add_watch_options

RUNTIME_HELP = ("what serves the models: mlflow (MLflow's scoring server, the default) or mlserver (MLServer, "
                "V2), for every role or per role: champion=mlflow,challenger=mlserver")
RUN_HELP = "a run id (as `replay` printed it), or latest: the model's newest run"


def _home_and_json() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--home", help="sandbox home (default: $STAGING_HOME or .staging)")
    shared.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return shared


def _where_models_run() -> argparse.ArgumentParser:
    """The backend and, for the endpoint backend, the two URLs and the hosts traffic may reach."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--backend", choices=BACKEND_NAMES, default="auto")
    shared.add_argument("--champion-url", help="endpoint backend: the champion's base URL, MLflow's "
                                               "(http://HOST:PORT) or V2's (http://HOST/v2/models/NAME)")
    shared.add_argument("--challenger-url", help="endpoint backend: the challenger's base URL, in either form")
    shared.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="endpoint backend: a host traffic may be sent to besides loopback (repeatable; "
                             "also STAGING_ALLOWED_HOSTS)")
    shared.add_argument("--unchecked-endpoints", metavar="WHY", default="",
                        help="endpoint backend: skip the check that each URL serves the version named (for a model "
                             "logged without a signature); the reason is recorded on the run")
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m staging", description="Staging sandbox, headless.")
    commands = parser.add_subparsers(dest="command", required=True)
    home = [_home_and_json()]
    served = [*home, _where_models_run()]

    demo = commands.add_parser("demo", parents=home, help="bootstrap, start, shadow replay, compare and drift, in one go")
    demo.add_argument("--backend", choices=[n for n in BACKEND_NAMES if n != "endpoint"], default="auto")
    demo.add_argument("--requests", type=int, default=1000, help="recorded requests to replay (default 1000)")
    demo.add_argument("--scenario", choices=sorted(SCENARIOS), default="credit")
    demo.add_argument("--concurrency", type=int, default=2)
    demo.add_argument("--replica", action="store_true", help="also run a second champion: the noise floor")
    demo.add_argument("--runtime", help=RUNTIME_HELP)

    replay = commands.add_parser("replay", parents=served,
                                 help="replay recorded traffic against a model's champion and challenger")
    replay.add_argument("--model", required=True, help="registered model name")
    replay.add_argument("--traffic", required=True, help="CSV, Parquet or JSON Lines (MLflow payloads, SageMaker "
                                                         "Data Capture, KServe CloudEvents)")
    replay.add_argument("--labels", help="late labels: a file with request_id and the target column")
    replay.add_argument("--label-column", help="the labels' outcome column, when it is not the model's target")
    replay.add_argument("--reference", help="training data for drift")
    replay.add_argument("--runtime", help=RUNTIME_HELP)
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
    replay.add_argument("--task", choices=("classification", "regression"),
                        help="what the models are, when what MLflow records about them does not say (or says wrong)")
    replay.add_argument("--score-column", help="the answer's column holding the positive class's probability, when "
                                               "it is not probability_<class>, probability, proba or score")
    replay.add_argument("--trust-code", action="append", default=[], metavar="ROLE|NAME/VERSION",
                        help="run this model version's own code (a cloudpickled PythonModel); recorded in the run "
                             "and shown by the gate. Repeat for both models")

    capacity = commands.add_parser("capacity", parents=served,
                                   help="each model alone under an open-loop ramp: the highest rate within a latency "
                                        "objective, a spike, and the cost of 1,000 predictions")
    capacity.add_argument("--model", required=True, help="registered model name")
    capacity.add_argument("--traffic", help="recorded traffic whose rows are the bodies sent (default: the demo "
                                            "scenario's, for the demo's models)")
    capacity.add_argument("--runtime", help=RUNTIME_HELP)
    capacity.add_argument("--trust-code", action="append", default=[], metavar="ROLE|NAME/VERSION",
                          help="run this model version's own code (a cloudpickled PythonModel)")
    capacity.add_argument("--objective", default="p99:100",
                          help="the latency a model must keep to hold a rate, PERCENTILE:MS (p95 or p99; "
                               "default p99:100)")
    capacity.add_argument("--max-error-rate", type=float, default=0.01,
                          help="errors and timeouts a step may have, as a share of requests (default 0.01)")
    capacity.add_argument("--start-rate", type=float, default=20.0,
                          help="the ramp's first rate, requests a second (stepped down when even it breaks)")
    capacity.add_argument("--growth", type=float, default=2.0, help="each step's rate over the last (default 2)")
    capacity.add_argument("--max-rate", type=float, default=5000.0, help="the ramp's highest rate")
    capacity.add_argument("--step-s", type=float, default=3.0, help="seconds per step (default 3)")
    capacity.add_argument("--min-requests", type=int, default=100,
                          help="requests a step sends at least (a slow step lasts longer; default 100)")
    capacity.add_argument("--refine-steps", type=int, default=3,
                          help="bisections between the last good rate and the first bad one (default 3)")
    capacity.add_argument("--repeats", type=int, default=2,
                          help="ramps per model, alternating champion and challenger (default 2)")
    capacity.add_argument("--spike-multiple", type=float, default=10.0,
                          help="the spike: this many times the base rate (default 10)")
    capacity.add_argument("--spike-base", type=float,
                          help="the spike's base rate (default: a fifth of the weaker model's sustainable rate)")
    capacity.add_argument("--spike-s", type=float, default=4.0, help="seconds the spike lasts (default 4)")
    capacity.add_argument("--no-spike", action="store_true", help="measure the ramp only")
    capacity.add_argument("--price-vcpu-hour", type=float, help="what one vCPU costs an hour (with --currency)")
    capacity.add_argument("--price-gb-hour", type=float, help="what one GB of memory costs an hour (default 0)")
    capacity.add_argument("--currency", help="the prices' currency, e.g. USD (there is no default currency)")
    capacity.add_argument("--peak-rate", type=float,
                          help="a peak to plan for: how many replicas of each model it needs")
    capacity.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")

    explain = commands.add_parser("explain", parents=served,
                                  help="why the models differ: each model's SHAP attributions through its served "
                                       "endpoint, on a run's disagreements and a sample of the rest")
    explain.add_argument("--model", help="registered model name (needed with --run latest)")
    explain.add_argument("--run", default="latest", help=RUN_HELP + " (the default)")
    explain.add_argument("--disagreements", type=int, default=300,
                         help="explain every disagreement up to this many (default 300)")
    explain.add_argument("--others", type=int, default=200,
                         help="and a random sample of this many agreeing requests (default 200)")
    explain.add_argument("--background", type=int, default=25,
                         help="rows of the training reference masked features come from (default 25)")
    explain.add_argument("--time-limit", type=float, default=600.0,
                         help="seconds it may take; the rows done by then are kept (default 600)")
    explain.add_argument("--scale", choices=("probability", "log-odds"), default="probability",
                         help="a classifier's output explained as a probability or its log-odds")
    explain.add_argument("--permutations", type=int, default=1,
                         help="antithetic permutations per row (default 1; exact for additive models)")
    explain.add_argument("--again", action="store_true", help="explain again, replacing the stored explanation")

    watch = commands.add_parser("watch", parents=served,
                                help="the comparison that runs itself: MLflow's webhooks (a new @challenger) and a "
                                     "schedule start a replay, gate and report; the verdict is tagged on the version")
    add_watch_options(watch)

    labels = commands.add_parser("labels", parents=home, help="attach labels that arrived late to a finished run")
    labels.add_argument("file", help="CSV, Parquet or JSON Lines (SageMaker ground truth, or records) with a "
                                     "request id and the outcome")
    labels.add_argument("--model", help="registered model name (needed with --run latest)")
    labels.add_argument("--run", required=True, help=RUN_HELP)
    labels.add_argument("--label-column", help="the column that holds the outcome, when it is not the model's target")

    gate = commands.add_parser("gate", parents=home,
                               help="a run's verdict under a promotion policy (exit 0 passed, 1 failed)")
    gate.add_argument("--model", required=True, help="registered model name")
    gate.add_argument("--run", default="latest", help=RUN_HELP + " (the default)")
    gate.add_argument("--policy", help="a TOML policy file (default: HOME/policies/<model>.toml, else the "
                                       "sandbox's default, staging/gate/default.toml)")
    gate.add_argument("--report", help="also write the run's offline report (report.html, report.json) here")

    promote = commands.add_parser("promote", parents=home,
                                  help="move @champion to a run's challenger on its gate's verdict")
    promote.add_argument("--model", required=True)
    promote.add_argument("--run", required=True, help="the run whose evidence the decision rests on: " + RUN_HELP)
    promote.add_argument("--reviewer", required=True, help="your name; in team mode your MLflow user name (the "
                                                           "password comes from STAGING_REVIEWER_PASSWORD or a prompt)")
    promote.add_argument("--reason", required=True)
    promote.add_argument("--yes", action="store_true", help="confirm the move (required)")
    promote.add_argument("--override", action="store_true", help="promote despite a failed gate (say why in --reason)")
    promote.add_argument("--policy", help="a TOML policy file (default: the model's, else the sandbox's)")

    rollback = commands.add_parser("rollback", parents=home,
                                   help="put @champion back where the last promotion found it")
    rollback.add_argument("--model", required=True)
    rollback.add_argument("--reviewer", required=True, help="as for promote")
    rollback.add_argument("--reason", required=True)
    rollback.add_argument("--yes", action="store_true", help="confirm the move (required)")

    audit = commands.add_parser("audit", parents=home, help="check the audit chain")
    audit.add_argument("action", choices=["verify"])
    history = commands.add_parser("history", parents=home, help="who was champion when, and why")
    history.add_argument("--model", required=True)

    team = commands.add_parser("team", help="team mode's users (run as the MLflow admin)")
    team.add_argument("action", choices=["add-user"])
    team.add_argument("user", help="the MLflow user name to create (the password comes from "
                                   "STAGING_NEW_USER_PASSWORD or a prompt, never the command line)")
    team.add_argument("--models", default="", help="comma-separated registered models to grant the permission on")
    team.add_argument("--permission", default="EDIT", choices=["READ", "EDIT", "MANAGE"],
                      help="EDIT or MANAGE may promote; READ may only look (default EDIT)")
    prune = commands.add_parser("prune", help="remove model images but those of each model's newest versions")
    prune.add_argument("--keep", type=int, default=3, help="versions kept per model (default 3)")
    prune.add_argument("--json", action="store_true", help="one JSON object")
    base = commands.add_parser("base-image", help="build the containers' base image from Debian's packages")
    base.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    commands.add_parser("app-image", help="build the app's image for compose.yaml (hermetic, from a wheelhouse)")
    return parser
