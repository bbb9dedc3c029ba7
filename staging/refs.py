"""`ModelRef`: one registered model version, as a plain value that needs no MLflow import.

A `ModelRef` pins an alias to the version it pointed at when resolved, so a server, a run
and a report always name the exact version they used, even after the alias moves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRef:
    """One registered model version, with the alias it was resolved through (if any)."""

    name: str
    version: str
    alias: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "alias": self.alias, "uri": self.uri}
