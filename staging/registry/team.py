"""Team mode: the sandbox shared through an MLflow tracking server that runs MLflow's basic-auth
app (`mlflow server --app-name basic-auth`), so that MLflow's own users and per-model permissions
decide who may promote.

- A sign-off carries the reviewer's MLflow user name and password (`Credentials`). They are
  checked against the server first (`authenticated_user`), and the audit record names the user
  the server authenticated, never a name typed in a free-text field.
- The alias moves, and the version is tagged, with those credentials (`ReviewerWrites`, MLflow's
  own REST store): a reviewer whose MLflow permission on the model is below EDIT is refused by
  MLflow itself, and nothing moves.
- The password lives only in memory for the length of one call: `Credentials` never prints it,
  and nothing here writes it anywhere.

Outside team mode (one person's machine, the home's own sqlite store) the reviewer stays a
free-text name. `add_user` is the administrator's tool (`python -m staging team add-user`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlflow.exceptions import MlflowException

from ..errors import ConfigurationError, PromotionError

EDIT_OR_ABOVE = ("EDIT", "MANAGE")


@dataclass(frozen=True)
class Credentials:
    """An MLflow user's name and password; the password never appears in its repr."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username.strip() or not self.password:
            raise PromotionError("The sign-off needs your MLflow user name and password.",
                                 hint="In team mode the sandbox moves the alias as you, with MLflow's permissions.")


def _host_creds(tracking_uri: str, credentials: Credentials):
    from mlflow.utils.rest_utils import MlflowHostCreds

    return MlflowHostCreds(tracking_uri, username=credentials.username.strip(), password=credentials.password)


def _refusal(exc: MlflowException, credentials: Credentials, what: str) -> PromotionError:
    code = getattr(exc, "error_code", "")
    if code == "UNAUTHENTICATED" or "not authenticated" in str(exc).lower():
        return PromotionError(f"MLflow did not accept the user name '{credentials.username}' with that password.",
                              hint="Nothing was moved. Check the password, or ask the MLflow admin for an account.")
    if code == "PERMISSION_DENIED" or "permission" in str(exc).lower():
        return PromotionError(f"MLflow refused: the user '{credentials.username}' may not {what}.",
                              hint="Nothing was moved. A reviewer needs EDIT or MANAGE on the registered model; "
                                   "ask the MLflow admin (python -m staging team add-user … --models NAME).")
    return PromotionError(f"MLflow could not {what}: {exc.message}", hint="Nothing was moved.")


def authenticated_user(tracking_uri: str, credentials: Credentials) -> str:
    """The user name the tracking server authenticates these credentials as; a PromotionError
    when it does not."""
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    endpoint = "/api/2.0/mlflow/users/get"
    try:
        response = http_request(_host_creds(tracking_uri, credentials), endpoint, "GET",
                                params={"username": credentials.username.strip()}, max_retries=0)
        verify_rest_response(response, endpoint)
    except MlflowException as exc:
        raise _refusal(exc, credentials, "sign in") from exc
    return str(response.json()["user"]["username"])


class ReviewerWrites:
    """The registry writes of a sign-off (alias and version tags), made as the reviewer."""

    def __init__(self, tracking_uri: str, credentials: Credentials) -> None:
        from mlflow.store.model_registry.rest_store import RestStore

        self.credentials = credentials
        self._store = RestStore(lambda: _host_creds(tracking_uri, credentials))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        try:
            self._store.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            raise _refusal(exc, self.credentials, f"move '{name}@{alias}'") from exc

    def tag_version(self, name: str, version: str, key: str, value: str) -> None:
        from mlflow.entities.model_registry import ModelVersionTag

        try:
            self._store.set_model_version_tag(name, version, ModelVersionTag(key, value))
        except MlflowException as exc:
            raise _refusal(exc, self.credentials, f"tag version {version} of '{name}'") from exc


def add_user(tracking_uri: str, username: str, password: str, models: list[str], permission: str = "EDIT") -> dict:
    """Create an MLflow user (if new) and grant it `permission` on each model. Runs as the admin
    whose credentials are in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."""
    from mlflow.server.auth.client import AuthServiceClient

    if permission not in ("READ", *EDIT_OR_ABOVE):
        raise ConfigurationError(f"'{permission}' is not a permission the sandbox grants.",
                                 hint="Give READ (may look), EDIT or MANAGE (may promote).")
    client = AuthServiceClient(tracking_uri)
    try:
        try:
            client.get_user(username)
            created = False
        except MlflowException:
            client.create_user(username, password)
            created = True
        for model in models:
            client.grant_user_permission(username, "registered_model", model, permission)
    except MlflowException as exc:
        raise ConfigurationError(f"MLflow refused to set up the user '{username}': {exc.message}",
                                 hint="Run this as the MLflow admin (MLFLOW_TRACKING_USERNAME and "
                                      "MLFLOW_TRACKING_PASSWORD).") from exc
    return {"user": username, "created": created, "permission": permission, "models": models}
