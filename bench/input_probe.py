"""How malformed traffic files end, by kind: the held-out probe's count, reproducible, and run
against any checkout (so "before" and "after" a change are measured the same way).

    python bench/input_probe.py make DIR [--count 1000]   write the files (Hypothesis, from the
                                                           fuzz tests' own strategies)
    PYTHONPATH=CHECKOUT python bench/input_probe.py judge DIR
    python bench/input_probe.py [--count 1000]             both, on this checkout; prints the counts

Each file goes through the steps a replay takes before anything is sent (read and validate
against the signature, the timing checked, the run's files written, the page's tables shown) and
ends as one of: refused (a StagingError, one line), quarantined (read, bad rows kept aside), clean,
traceback (any other exception) or garbage accepted (an integer that is not what the file held,
an id spelled from a list or record, a value outside the model's type). The judge imports only
what every version of the sandbox has."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import parse_with_quick, publish

ROOT = Path(__file__).resolve().parent.parent


def make(folder: Path, count: int) -> None:
    """`count` files from the fuzz tests' strategies, each with its source values beside it."""
    sys.path.insert(0, str(ROOT / "tests" / "unit" / "traffic"))
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from test_fuzz_types import csv_files, jsonl_files, parquet_files

    folder.mkdir(parents=True, exist_ok=True)
    made = []

    @settings(max_examples=count, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(parquet_files(), jsonl_files(), csv_files()), st.sampled_from(["max", "recorded"]))
    def write(file, timing):
        suffix, data, sources = file
        path = folder / f"{len(made):05d}{suffix}"
        path.write_bytes(data)
        sidecar = {"timing": timing, "sources": {k: v for k, v in (sources or {}).items()}}
        path.with_suffix(".json").write_text(json.dumps(sidecar, default=str))
        made.append(path)

    write()


def exact(value):
    """The whole number a written value means (None: not one), by Python's int and Decimal."""
    from decimal import Decimal, InvalidOperation

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() else None


def judge_one(path: Path) -> str:
    import pandas as pd

    from staging.errors import StagingError
    from staging.replay.plan import send_offsets
    from staging.traffic import FeatureSpec, load_and_validate
    from staging.ui.display import readable

    specs = [FeatureSpec("age", "long"), FeatureSpec("count", "integer", False), FeatureSpec("income", "double"),
             FeatureSpec("housing", "string", False)]
    sidecar = json.loads(path.with_suffix(".json").read_text())
    try:
        validated = load_and_validate(path, specs)
        send_offsets(sidecar["timing"], len(validated.requests), validated.requests.get("timestamp"))
    except StagingError:
        return "refused before any server"
    except Exception:  # noqa: BLE001 - what the probe counts
        return "traceback"
    requests, quarantine = validated.requests, validated.quarantine
    try:
        try:
            from staging.cells import cell_text
            stored = quarantine.map(cell_text).rename(columns=str)
        except ImportError:  # a checkout from before `cells`: what it stored then
            stored = quarantine.astype(str)
        stored.to_parquet(io.BytesIO(), index=False)
        requests.to_parquet(io.BytesIO(), index=False)
        readable(quarantine), readable(requests)
    except Exception:  # noqa: BLE001
        return "traceback"
    ids = requests["request_id"].astype(str)
    if ids.str.match(r"^[\[{]|^array\(").any():
        return "garbage accepted"
    for spec, bits in (("age", 63), ("count", 31)):
        for request_id, value in zip(ids, requests[spec]):
            if pd.isna(value):
                continue
            if float(value) != float(value) or not -(2**bits) <= int(value) < 2**bits:
                return "garbage accepted"
            source = sidecar["sources"].get(request_id, {})
            if spec in source and exact(source[spec]) != int(value):
                return "garbage accepted"
    return "read, rows quarantined" if len(quarantine) else "read clean"


def judge(folder: Path, keep: Path | None = None) -> dict:
    """Outcome -> files; a file that ended in a traceback or was accepted as garbage is copied to
    `keep`, with its sources, for a test to be made of it."""
    counts: Counter = Counter()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json":
            continue
        outcome = judge_one(path)
        counts[outcome] += 1
        if keep is not None and outcome in ("traceback", "garbage accepted"):
            keep.mkdir(parents=True, exist_ok=True)
            for one in (path, path.with_suffix(".json")):
                shutil.copy(one, keep / one.name)
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=["make", "judge", "both"], default="both")
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--count", type=int, default=1000)
    args = parse_with_quick(parser, count=40)
    if args.step == "make":
        make(Path(args.folder), args.count)
    elif args.step == "judge":
        print(json.dumps(judge(Path(args.folder))))
    else:
        kept = Path(tempfile.gettempdir()) / "input-probe-failures"
        with tempfile.TemporaryDirectory(prefix="input-probe-") as folder:
            make(Path(folder), args.count)
            counts = judge(Path(folder), kept)
        publish("input_probe", {"files": sum(counts.values()), "outcomes": counts,
                                "tracebacks": counts.get("traceback", 0),
                                "garbage_accepted": counts.get("garbage accepted", 0),
                                **({"failures_kept_in": str(kept)} if kept.exists() else {})})


if __name__ == "__main__":
    main()
