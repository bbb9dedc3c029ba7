"""Capacity results kept under the home (`SandboxHome.capacity_dir`), one JSON file each, so the
gate, the report and the page read the latest run for a model's versions long after it ran."""

from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from ..home import SandboxHome
from ..jsonable import plain
from .result import CapacityResult


class CapacityStore:
    """The capacity results of one sandbox home."""

    def __init__(self, home: SandboxHome) -> None:
        self.folder = home.capacity_dir

    def save(self, result: CapacityResult) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return atomic_write(self.folder / f"{result.capacity_id}.json",
                            json.dumps(plain(result.as_dict()), indent=1, allow_nan=False))

    def results(self, model_name: str | None = None) -> list[CapacityResult]:
        """Every result (of one model), newest first; a file that cannot be read is passed over."""
        found = []
        for path in sorted(self.folder.glob("*.json"), reverse=True):
            try:
                result = CapacityResult.from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if model_name is None or result.model_name == model_name:
                found.append(result)
        return found

    def latest(self, model_name: str, versions: dict[str, str] | None = None) -> CapacityResult | None:
        """The newest result for the model, and for exactly these versions when they are given."""
        return next((r for r in self.results(model_name) if versions is None or r.versions() == versions), None)
