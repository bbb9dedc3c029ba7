"""Replay: recorded requests sent to live model servers, timed, and every answer written.

    settings.py  ReplaySettings: mode (shadow, canary, A/B), timing and their options
    plan.py      who gets each request and when (pure decisions, unit-tested)
    bodies.py    the request bodies, built once before the timed replay
    engine.py    the hot path: aiohttp on one event loop, answers to the run's journal
    progress.py  live counters shared by the engine and the handle
    worker.py    the worker process: one prepared run replayed and closed with its status
    handle.py    the app's side: start the worker, follow its progress, cancel, wait
    resources.py each server's CPU and memory read every second while a replay runs, kept with it

The app and the command line call `start_replay` (in `handle`); the worker runs as
`python -m staging.replay.worker RUN_FOLDER`. This module imports only the light parts, so
that the run manifest can name `ReplaySettings` without loading aiohttp.
"""

from ..runs.settings import DEFAULT_CANARY_STEPS, MODES, TIMINGS, ReplaySettings
from .plan import parse_canary_steps
from .progress import ReplayProgress

__all__ = ["DEFAULT_CANARY_STEPS", "MODES", "TIMINGS", "ReplayProgress", "ReplaySettings", "parse_canary_steps"]
