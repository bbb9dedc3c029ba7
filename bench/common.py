"""What the benches share: waiting for a server, and how a bench reports its figures.

How a bench reports: its figures as one JSON line on stdout (the keys its issue names), and,
unless BENCH_QUICK=1, the same figures kept in bench/results/<bench>.json, each with when and on
how loaded a machine it was measured, for `python bench/figures.py` to write the figures page.
A bench measured in parts (`bench/replay.py --parts …`) adds its keys to what the file holds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests

RESULTS = Path(__file__).resolve().parent / "results"


def machine_state() -> dict:
    """Cores and the load average: whether the machine was otherwise idle while it measured."""
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "load_1m": round(load[0], 2), "load_5m": round(load[1], 2)}


def publish(bench: str, figures: dict) -> None:
    print(json.dumps(figures, default=str), flush=True)
    if os.environ.get("BENCH_QUICK") == "1":
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{bench}.json"
    record = json.loads(path.read_text()) if path.exists() else {"bench": bench, "figures": {}, "measured": {}}
    when = {"at": time.strftime("%Y-%m-%d %H:%M"), **machine_state()}
    for key, value in figures.items():
        record["figures"][key] = value
        record["measured"][key] = when
    path.write_text(json.dumps(record, indent=1, default=str, sort_keys=True) + "\n")


def wait_until_up(url: str, timeout_s: float = 60.0) -> None:
    """Poll `url` until it answers 2xx; stop the bench with a message when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s")


def parse_with_quick(parser, **small) -> object:
    """The bench's arguments; with `--quick` (CI), the sizes in `small` instead of the measured
    ones: the same keys are printed, nothing is kept in bench/results."""
    parser.add_argument("--quick", action="store_true", help="small sizes, nothing kept: checks the keys print (CI)")
    args = parser.parse_args()
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
        for name, value in small.items():
            setattr(args, name, value)
    return args
