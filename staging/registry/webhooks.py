"""The MLflow webhook that tells the watcher about a new version or a new @challenger.

`register_webhook` creates (or, when one of the same name exists, updates) a registry-wide
webhook on the tracking server for `model_version.created` and `model_version_alias.created`,
signed with the shared secret. It runs with the credentials MLflow's client finds in the
environment (an admin's, in team mode). `SERVER_SETTINGS` are what the tracking server itself
needs for the delivery to leave it: without them MLflow refuses the URL, or drops each delivery
with only a line in its own log.
"""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import ConfigurationError

WEBHOOK_NAME = "staging-sandbox-watcher"
EVENTS = ("model_version.created", "model_version_alias.created")
SERVER_SETTINGS = (
    ("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "https,http", "http only where the watcher is on a private network"),
    ("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true", "the watcher's address (loopback, compose's network) is private"),
    ("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", "<a Fernet key, kept>",
     "without it the server cannot read the webhook's secret after a restart"),
    ("--backend-store-uri", "sqlite:///… or another SQL store", "MLflow's file store has no webhooks"),
)


def server_settings_text() -> str:
    lines = ["The tracking server needs, for deliveries to reach the watcher:"]
    lines += [f"  {name}={value}    ({why})" if not name.startswith("--") else f"  {name} {value}    ({why})"
              for name, value, why in SERVER_SETTINGS]
    lines.append("  a Fernet key: python -c \"from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())\"")
    return "\n".join(lines)


def register_webhook(tracking_uri: str, url: str, secret: str) -> dict[str, str]:
    """The watcher's webhook on the tracking server, created or updated; its id, URL and events."""
    if not tracking_uri.startswith(("http://", "https://")):
        raise ConfigurationError("Webhooks are sent by a tracking server, and STAGING_TRACKING_URI names none.",
                                 hint="Set STAGING_TRACKING_URI to the server (http://127.0.0.1:5000); a local "
                                      "sqlite home has no server to send them.")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    events: list[Any] = list(EVENTS)
    try:
        existing = [hook for hook in client.list_webhooks() if hook.name == WEBHOOK_NAME]
        if existing:
            hook = client.update_webhook(existing[0].webhook_id, url=url, events=events, secret=secret,
                                         status="ACTIVE")
        else:
            hook = client.create_webhook(WEBHOOK_NAME, url, events, secret=secret,
                                         description="Starts the staging sandbox's comparison of a new challenger.")
    except MlflowException as exc:
        raise ConfigurationError(f"The tracking server at {tracking_uri} would not register the webhook to {url}: "
                                 f"{exc.message[:300]}", hint=server_settings_text()) from exc
    return {"webhook_id": hook.webhook_id, "name": hook.name, "url": hook.url,
            "events": ", ".join(str(event) for event in hook.events)}
