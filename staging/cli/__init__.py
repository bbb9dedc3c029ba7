"""The command line: the app's path without a browser (`python -m staging --help`).

    python -m staging demo [--backend auto|docker|process] [--requests N] [--scenario credit|delivery]
    python -m staging replay --model NAME --traffic FILE [--labels FILE] [--reference FILE] [--mode …]
    python -m staging capacity --model NAME [--traffic FILE] [--objective p99:100] [--repeats 2] [--price-vcpu-hour …]
    python -m staging labels FILE --run RUN_ID|latest [--model NAME] [--label-column NAME]
    python -m staging gate --model NAME [--run RUN_ID|latest] [--policy FILE] [--report DIR]
    python -m staging promote --model NAME --run RUN_ID|latest --reviewer WHO --reason WHY --yes [--override]
    python -m staging rollback --model NAME --reviewer WHO --reason WHY --yes
    python -m staging watch --model NAME --traffic FILE|s3://… [--last 24h] [--every 24h] [--register]
    python -m staging audit verify | history --model NAME
    python -m staging team add-user USER [--models A,B] [--permission READ|EDIT|MANAGE]
    python -m staging prune [--keep 3] | base-image [--force] | app-image

Every command that reads a sandbox home takes `--home DIR` and `--json` (one JSON object on
stdout). `parser` declares the grammar, `commands` does the work and returns an `Outcome`,
`render` turns typed results into text; `main` prints and picks the exit code (see
`commands`). In team mode (STAGING_TEAM_MODE=1) `--reviewer` is your MLflow user name and the
password comes from STAGING_REVIEWER_PASSWORD or a prompt. Either way a run is written exactly
as the app writes it, so it appears on its pages.
"""

from __future__ import annotations

import logging
import sys
import time

from ..errors import ModelEnvironmentError, PromotionError, ServerStartError, StagingError
from ..home import SandboxHome
from . import commands
from .parser import build_parser
from .render import as_json
from .watch import run_watch

# `watch` lives in its own module, which imports `commands`: the whole table is put together here
COMMANDS = {**commands.COMMANDS, "watch": run_watch}


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
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    quiet_libraries(getattr(args, "home", None))

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        outcome = COMMANDS[args.command](args, log)
    except PromotionError as exc:  # refused, not bad input: a failed gate, a conflict, a broken chain
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except (ModelEnvironmentError, ServerStartError) as exc:  # the model cannot be served: not the input's fault
        print(f"cannot serve: {exc}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return 4
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
    if getattr(args, "json", False):
        print(as_json(outcome.data))
    else:
        print(outcome.text if outcome.text is not None else as_json(outcome.data, indent=2))
    return outcome.exit_code


__all__ = ["main"]
