"""The MLflow model registry, seen through the few calls the sandbox needs. MLflow's
exceptions become `RegistryError` here, at this one boundary (`map_exceptions`).

A `ModelRef` (in `refs`) pins an alias to the version it pointed at when resolved, so a server, a run
and a report always name the exact version they used, even after the alias moves.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient

from ..errors import MissingSignature, PromotionError, RegistryError, map_exceptions
from ..home import SandboxHome
from ..refs import ModelRef
from ..serving.signatures import InputSpec


def _when(milliseconds: int | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(milliseconds / 1000)) if milliseconds else "—"


def side_by_side(champion: dict[str, dict[str, str]], challenger: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """Both versions' facts as rows (kind, name, champion, challenger, differs), the differences first."""
    rows = []
    for kind in ("version", "param", "metric", "tag"):
        names = sorted(set(champion.get(kind, {})) | set(challenger.get(kind, {})))
        for name in names:
            ours, theirs = champion.get(kind, {}).get(name, "—"), challenger.get(kind, {}).get(name, "—")
            rows.append({"kind": kind, "name": name, "champion": ours, "challenger": theirs,
                         "differs": "yes" if ours != theirs else ""})
    return sorted(rows, key=lambda row: (row["kind"] != "version", row["differs"] != "yes"))


def configure_mlflow(home: SandboxHome) -> None:
    """Point this process's MLflow at the sandbox home's store, explicitly."""
    home.ensure()
    mlflow.set_tracking_uri(home.tracking_uri)
    mlflow.set_registry_uri(home.tracking_uri)


MLFLOW_ERRORS = {MlflowException: RegistryError, OSError: RegistryError}


class Registry:
    """Read and move aliases of registered models in the sandbox's MLflow store."""

    def __init__(self, home: SandboxHome, writes=None) -> None:
        """`writes`: a reviewer's `team.ReviewerWrites`, through which alias moves and version tags
        go in team mode (MLflow's permissions then decide); reads use the app's own access."""
        configure_mlflow(home)
        self.home = home
        self.client = MlflowClient(tracking_uri=home.tracking_uri, registry_uri=home.tracking_uri)
        self.writes = writes

    def model_names(self) -> list[str]:
        with map_exceptions(MLFLOW_ERRORS, "Could not list the registered models"):
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
        with map_exceptions(MLFLOW_ERRORS, f"Could not read the tags of {ref.uri}"):
            return dict(self.client.get_model_version(ref.name, ref.version).tags)

    def model_tags(self, name: str) -> dict[str, str]:
        with map_exceptions(MLFLOW_ERRORS, f"Could not read the tags of the registered model {name}"):
            return dict(self.client.get_registered_model(name).tags)

    def require_version(self, name: str, version: str) -> None:
        """Nothing when the version exists; a `RegistryError` when it does not."""
        with map_exceptions(MLFLOW_ERRORS, f"Version {version} of '{name}' is not in the registry",
                            hint="Check the registry: the version may have been deleted."):
            self.client.get_model_version(name, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.require_version(name, version)
        if self.writes is not None:
            self.writes.set_alias(name, alias, version)
            return
        with map_exceptions(MLFLOW_ERRORS, f"Could not point '{name}@{alias}' at version {version}"):
            self.client.set_registered_model_alias(name, alias, version)

    def tag_version(self, ref: ModelRef, key: str, value: str) -> None:
        if self.writes is not None:
            try:
                self.writes.tag_version(ref.name, ref.version, key, value)
            except PromotionError as exc:
                raise RegistryError(exc.message, hint=exc.hint) from exc
            return
        with map_exceptions(MLFLOW_ERRORS, f"Could not tag {ref.uri} with {key}"):
            self.client.set_model_version_tag(ref.name, ref.version, key, value)

    def signature(self, ref: ModelRef) -> ModelSignature:
        configure_mlflow(self.home)  # MLflow resolves models:/ URIs through its process-wide registry URI
        with map_exceptions(MLFLOW_ERRORS, f"Cannot read the model files of {ref.uri}"):
            info = mlflow.models.get_model_info(ref.uri)
        if info.signature is None:
            raise MissingSignature(
                f"{ref.uri} was logged without a signature, and no training reference says what its inputs are.",
                hint="Give a training reference (--reference) with the model's input columns, or log the model again "
                     "with a signature (mlflow.models.infer_signature).",
            )
        return info.signature

    def input_output_specs(self, ref: ModelRef) -> tuple[tuple[InputSpec, ...], tuple[str, ...]]:
        """A version's signature as plain values: its inputs (name, type, required) and its
        output types in order ("tensor:<dtype>" for a tensor)."""
        signature = self.signature(ref)
        inputs = tuple(InputSpec(str(col.name), getattr(col.type, "name", str(col.type)),
                                 bool(getattr(col, "required", True))) for col in signature.inputs.inputs)
        outputs: tuple[str, ...] = ()
        if signature.outputs is not None:
            outputs = tuple(getattr(col.type, "name", None) or f"tensor:{getattr(col, 'type', col)}"
                            for col in signature.outputs.inputs)
        return inputs, outputs

    def version_facts(self, ref: ModelRef) -> dict[str, dict[str, str]]:
        """What the registry and the version's training run say of it, by kind: `version` (created,
        source run, description, status), `tag`, `param` and `metric`; {} for a kind it lacks."""
        with map_exceptions(MLFLOW_ERRORS, f"Could not read {ref.uri} from the registry"):
            version = self.client.get_model_version(ref.name, ref.version)
            facts: dict[str, dict[str, str]] = {
                "version": {"created": _when(version.creation_timestamp), "training run": version.run_id or "—",
                            "description": version.description or "—"},
                "tag": {k: str(v) for k, v in (version.tags or {}).items() if not k.startswith("sandbox.audit.")},
                "param": {}, "metric": {}}
            if version.run_id:
                try:
                    run = self.client.get_run(version.run_id)
                except MlflowException:  # the run was deleted: the version's own facts still stand
                    return facts
                facts["param"] = {k: str(v) for k, v in run.data.params.items()}
                facts["metric"] = {k: f"{v:.4g}" for k, v in run.data.metrics.items()}
            return facts

    def audit_anchors(self, prefix: str = "sandbox.audit.") -> dict[str, tuple[str, str, str]]:
        """record id -> (model, version, hash) for every audit anchor tag on every model version."""
        anchors = {}
        with map_exceptions(MLFLOW_ERRORS, "Could not read the audit anchors from the registry"):
            for name in self.model_names():
                for version in self.client.search_model_versions(f"name='{name}'"):
                    for key, value in (version.tags or {}).items():
                        if key.startswith(prefix):
                            anchors[key[len(prefix):]] = (name, str(version.version), str(value))
        return anchors

    def log_report(self, ref: ModelRef, files: list[Path], folder: str) -> str | None:
        """Log files as artifacts of the run that produced this version (under `folder`), so the
        registry's page of the version leads to them; the artifact URI, or None when the version
        names no run."""
        with map_exceptions(MLFLOW_ERRORS, f"Could not log the report on {ref.uri}"):
            run_id = self.client.get_model_version(ref.name, ref.version).run_id
            if not run_id:
                return None
            for path in files:
                self.client.log_artifact(run_id, str(path), artifact_path=folder)
            return f"runs:/{run_id}/{folder}"
