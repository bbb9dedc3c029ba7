"""An MLflow webhook delivery, checked before anything reads it.

MLflow (3.3 and later) signs a delivery when the webhook has a secret: the header
`X-MLflow-Signature: v1,<base64 HMAC-SHA256>` over `"{delivery_id}.{timestamp}.{body}"`, with
`X-MLflow-Delivery-Id` and `X-MLflow-Timestamp` (Unix seconds). `read_delivery` refuses an
unsigned or wrongly signed delivery (401), a stale or future one, which could be a recorded
delivery played again, and a body that is not MLflow's event JSON (400), each with one sentence
for the log. The comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
MAX_AGE_S = 300.0  # a delivery older (or further in the future) than this is refused as stale


class DeliveryRefused(Exception):
    """A delivery the watcher will not act on: `status` (401 or 400) and why, in one sentence."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Delivery:
    """One verified event: `entity.action` (e.g. model_version_alias.created) and its `data`."""

    delivery_id: str
    timestamp: int
    entity: str
    action: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> str:
        return f"{self.entity}.{self.action}"

    @property
    def model(self) -> str:
        return str(self.data.get("name") or "")

    @property
    def version(self) -> str:
        return str(self.data.get("version") or "")

    @property
    def alias(self) -> str:
        return str(self.data.get("alias") or "")


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The `X-MLflow-Signature` value MLflow sends for this delivery."""
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value).strip()
    return ""


def read_delivery(secret: str, headers: Mapping[str, str], body: bytes, now: float,
                  max_age_s: float = MAX_AGE_S) -> Delivery:
    """The delivery, verified; `DeliveryRefused` when it is unsigned, forged, stale or malformed."""
    delivery_id, stamp, signature = (_header(headers, h) for h in (DELIVERY_ID_HEADER, TIMESTAMP_HEADER,
                                                                    SIGNATURE_HEADER))
    if not signature:
        raise DeliveryRefused(401, "an unsigned delivery (no X-MLflow-Signature): give the webhook the watcher's "
                                   "secret (python -m staging watch --register)")
    if not delivery_id or not stamp.isdigit():
        raise DeliveryRefused(400, "a delivery without X-MLflow-Delivery-Id or a numeric X-MLflow-Timestamp")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DeliveryRefused(400, f"delivery {delivery_id[:64]}: the body is not UTF-8 text") from None
    if not hmac.compare_digest(signature.encode(), sign(secret, delivery_id, stamp, text).encode()):
        raise DeliveryRefused(401, f"delivery {delivery_id[:64]}: the signature does not match the shared secret "
                                   "(forged, or the webhook and the watcher hold different secrets)")
    if abs(now - int(stamp)) > max_age_s:
        raise DeliveryRefused(400, f"delivery {delivery_id[:64]}: its timestamp is {abs(now - int(stamp)):,.0f} s "
                                   f"from now, beyond the {max_age_s:,.0f} s allowed (a replayed or delayed delivery)")
    try:
        event = json.loads(text)
    except ValueError:
        raise DeliveryRefused(400, f"delivery {delivery_id[:64]}: the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict) \
            or not all(isinstance(event.get(k), str) for k in ("entity", "action")):
        raise DeliveryRefused(400, f"delivery {delivery_id[:64]}: the body is not an MLflow event "
                                   "({entity, action, data})")
    return Delivery(delivery_id, int(stamp), event["entity"], event["action"], dict(event["data"]))
