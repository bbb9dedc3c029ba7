"""Each model server's CPU and memory over a replay, recorded with the run (`resources.json`), as
SageMaker's shadow tests show them: the live snapshot on Environment is gone once the run ends.

A thread in the app reads every server's cumulative CPU seconds and memory once a second
(`Backend.usage`: a process tree through psutil, a container through the engine), from the
start of the replay until its worker exits, then writes the series: seconds since the start,
the role, CPU in cores over the last second, memory in MB. Servers that run elsewhere (the
endpoint backend) have no reading, and the file then says so.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from ..capacity.resources import Reader
from ..files import atomic_write


def record_resources(readers: dict[str, Reader], target: Path, worker: subprocess.Popen,
                     interval_s: float = 1.0) -> threading.Thread:
    """Read every server each `interval_s` until `worker` exits, then write `target`."""
    def run() -> None:
        began = time.monotonic()
        points: dict[str, list[tuple[float, float, float]]] = {role: [] for role in readers}
        while True:
            for role, read in readers.items():
                try:
                    reading = read()
                except Exception:  # noqa: BLE001 - a server gone mid-run is a gap in its line, not a crash
                    reading = None
                if reading is not None:
                    points[role].append((time.monotonic() - began, *reading))
            if worker.poll() is not None:
                break
            time.sleep(interval_s)
        rows = [{"t_s": round(t2, 2), "model": role, "cpu_cores": round((c2 - c1) / (t2 - t1), 3),
                 "memory_mb": round(m2, 1)}
                for role, series in points.items() for (t1, c1, _), (t2, c2, m2) in zip(series, series[1:])
                if t2 > t1]
        note = "" if rows else "no reading: the servers run elsewhere, or the run was too short to measure"
        atomic_write(target, json.dumps({"interval_s": interval_s, "rows": rows, "note": note}))

    thread = threading.Thread(target=run, name="replay-resources", daemon=True)
    thread.start()
    return thread
