"""The offline report of a million-request run: how long it takes to write, and how big it is.

    python bench/report.py [--rows 1000000]

Prints one JSON object: `report_1m_s` (goal <= 10 s: the report and its evidence file written
from the run's stored evidence, charts drawn as SVG), `report_1m_bytes` (goal < 5 MB: it holds
aggregates only, as the pages do), `evidence_1m_s` (computing that evidence once, as the first
visit to the Compare page does; not part of the report's time) and `report_1m_charts`.
The run is built by bench/compare_page.py: real credit requests, synthetic answers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import parse_with_quick, publish
from compare_page import build_run  # a sibling: the script's folder is on the path

from staging import Sandbox, SandboxHome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parse_with_quick(parser, rows=2000)
    with tempfile.TemporaryDirectory() as folder:
        home = SandboxHome(Path(folder) / "home")
        run_id = build_run(home, args.rows)
        with Sandbox(home, backend="process") as box:
            began = time.perf_counter()
            evidence = box.evidence(run_id)
            evidence_s = time.perf_counter() - began
            began = time.perf_counter()
            files = box.report(evidence)
            report_s = time.perf_counter() - began
            html = files.html.read_text()
        publish("report", {"report_1m_s": round(report_s, 2), "report_1m_bytes": files.html.stat().st_size,
                          "report_1m_json_bytes": files.json.stat().st_size, "report_1m_charts": html.count("<svg"),
                          "evidence_1m_s": round(evidence_s, 1), "rows": args.rows})


if __name__ == "__main__":
    main()
