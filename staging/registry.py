"""The MLflow model registry, seen through the few calls the sandbox needs.

A `ModelRef` pins an alias to the version it pointed at when resolved, so a server, a run
and a report always name the exact version they used, even after the alias moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient

from .errors import RegistryError
from .home import SandboxHome

from .roles import CHALLENGER, CHAMPION, REPLICA, ROLES  # noqa: F401 - re-exported


@dataclass(frozen=True)
class ModelRef:
    """One registered model version, with the alias it was resolved through (if any)."""

    name: str
    version: str
    alias: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def alias_uri(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else self.uri

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "alias": self.alias, "uri": self.uri}


def configure_mlflow(home: SandboxHome) -> None:
    """Point this process's MLflow at the sandbox home's store, explicitly."""
    home.ensure()
    mlflow.set_tracking_uri(home.tracking_uri)
    mlflow.set_registry_uri(home.tracking_uri)


class Registry:
    """Read and move aliases of registered models in the sandbox's MLflow store."""

    def __init__(self, home: SandboxHome) -> None:
        configure_mlflow(home)
        self.home = home
        self.client = MlflowClient(tracking_uri=home.tracking_uri, registry_uri=home.tracking_uri)

    def model_names(self) -> list[str]:
        return sorted(m.name for m in self.client.search_registered_models())

    def aliases(self, name: str) -> dict[str, str]:
        """alias -> version for one registered model ({} when the model does not exist)."""
        try:
            return {alias: str(version) for alias, version in self.client.get_registered_model(name).aliases.items()}
        except MlflowException:
            return {}

    def resolve(self, name: str, alias: str) -> ModelRef:
        try:
            version = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            raise RegistryError(
                f"The registry has no model '{name}' with alias '{alias}'.",
                hint="Load the demo on the Overview page, or register the model and set the alias.",
            ) from exc
        return ModelRef(name=name, version=str(version.version), alias=alias)

    def version_tags(self, ref: ModelRef) -> dict[str, str]:
        return dict(self.client.get_model_version(ref.name, ref.version).tags)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        try:
            self.client.get_model_version(name, version)
            self.client.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            raise RegistryError(f"Could not point '{name}@{alias}' at version {version}: {exc.message}") from exc

    def tag_version(self, ref: ModelRef, key: str, value: str) -> None:
        self.client.set_model_version_tag(ref.name, ref.version, key, value)

    def signature(self, ref: ModelRef) -> ModelSignature:
        try:
            info = mlflow.models.get_model_info(ref.uri)
        except MlflowException as exc:
            raise RegistryError(f"Cannot read the model files of {ref.uri}: {exc.message}") from exc
        if info.signature is None:
            raise RegistryError(
                f"{ref.uri} was logged without a signature, so its traffic cannot be validated.",
                hint="Log the model again with a signature (mlflow.models.infer_signature).",
            )
        return info.signature
