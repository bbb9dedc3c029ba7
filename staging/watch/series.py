"""The verdicts the watcher reached, one JSON line each in `HOME/watch/verdicts.jsonl`, oldest
first: for Overview's series (date, verdict, the run) and for a look back at a scheduled
comparison's history, as DataRobot's challengers keep it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class SeriesPoint:
    """One comparison's outcome: when, which versions, why it ran, the verdict and where it is kept."""

    at: str
    model: str
    champion: str
    challenger: str
    trigger: str  # webhook (a delivery id) or schedule
    status: str  # passed, warned, failed, not yet, or error
    headline: str
    run_id: str = ""
    report: str = ""


class VerdictSeries:
    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "verdicts.jsonl"

    def append(self, point: SeriesPoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(point)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def points(self, model: str | None = None) -> list[SeriesPoint]:
        """Every point (of one model), oldest first; a torn last line is skipped."""
        if not self.path.exists():
            return []
        names = {f.name for f in fields(SeriesPoint)}
        points = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                point = SeriesPoint(**{k: str(v) for k, v in data.items() if k in names})
            except (ValueError, TypeError):
                continue
            if model is None or point.model == model:
                points.append(point)
        return points
