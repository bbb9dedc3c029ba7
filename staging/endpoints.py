"""The one seam every model server speaks: the MLflow scoring protocol over HTTP.

An `Endpoint` is a plain value (role, base URL, which model, which backend). Whatever
started it (a local process, a container, or nothing: an external URL), the replay
engine only needs `wait_ready` and `invoke`, and the async client in `replay.engine` posts
to the same `/invocations` URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import requests

from .errors import BackendError, EndpointNotReady
from .predictions import Prediction, parse_predictions
from .refs import ModelRef

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Endpoint:
    role: str
    url: str  # base URL, no trailing slash
    backend: str
    model: ModelRef | None = None

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/invocations"

    def wait_ready(self, timeout: float = 120.0, still_starting: Callable[[], None] | None = None) -> float:
        """Poll GET /ping until it answers 200; returns the seconds waited.

        `still_starting` is called between polls and may raise to stop waiting early (the
        backend uses it to notice that the server process has died)."""
        start = time.monotonic()
        last_error = "no answer yet"
        while time.monotonic() - start < timeout:
            try:
                response = requests.get(f"{self.url}/ping", timeout=2)
                if response.status_code == 200:
                    return time.monotonic() - start
                last_error = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            if still_starting is not None:
                still_starting()
            time.sleep(0.1)
        raise EndpointNotReady(
            f"The {self.role} model server at {self.url}/ping did not answer within {timeout:.0f} s "
            f"(last error: {last_error}).", url=self.url, last_error=last_error,
            hint="Look at the server log on the Environment page; a larger model may need a longer timeout.",
        )

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def invoke(self, frame: pd.DataFrame, timeout: float = 30.0) -> list[Prediction]:
        """Score a DataFrame in one request (dataframe_split); raises BackendError on failure."""
        body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False, date_format="iso"))}
        try:
            response = requests.post(self.invocations_url, data=json.dumps(body), headers=JSON_HEADERS,
                                     timeout=timeout)
        except requests.RequestException as exc:
            raise BackendError(f"The {self.role} model at {self.url} could not be reached: {exc}") from exc
        if response.status_code != 200:
            raise BackendError(f"The {self.role} model at {self.url} answered HTTP {response.status_code}: "
                               f"{response.text[:300]}")
        return parse_predictions(response.json())

    def as_dict(self) -> dict:
        return {"role": self.role, "url": self.url, "backend": self.backend,
                "model": self.model.as_dict() if self.model else None}
