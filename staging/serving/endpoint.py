"""The one seam every model server sits behind: HTTP, in MLflow's scoring protocol or the
Open Inference Protocol (V2), whichever the endpoint's URL says (`protocols.protocol_of`).

An `Endpoint` is a plain value (role, base URL, which model, which backend). Whatever
started it (a local process, a container, or nothing: an external URL), the replay
engine only needs `wait_ready`, `invoke` and `invocations_url`: `/invocations` for MLflow's
protocol, `/v2/models/NAME/infer` for V2.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import requests

from ..errors import BackendError, EndpointNotReady
from ..refs import ModelRef
from ..settings import endpoint_token
from .predictions import Prediction, parse_predictions
from .protocols import V2, V2Tensor, metadata_inputs, protocol_of, v2_body, v2_predictions

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Endpoint:
    role: str
    url: str  # base URL, no trailing slash
    backend: str
    model: ModelRef | None = None

    @property
    def headers(self) -> dict[str, str]:
        """What every request carries: JSON, and for a server elsewhere the bearer token, if one
        is set (never sent to the models the sandbox starts itself)."""
        token = endpoint_token() if self.backend == "endpoint" else ""
        return {**JSON_HEADERS, "Authorization": f"Bearer {token}"} if token else JSON_HEADERS

    @property
    def protocol(self) -> str:
        return protocol_of(self.url)

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/infer" if self.protocol == V2 else f"{self.url}/invocations"

    @property
    def ready_url(self) -> str:
        """MLflow's `/ping`; for V2 the model's own readiness (`/v2/models/NAME/ready`)."""
        return f"{self.url}/ready" if self.protocol == V2 else f"{self.url}/ping"

    def metadata(self, timeout: float = 5.0) -> dict | None:
        """A V2 model's metadata (its typed inputs and outputs); None for MLflow's protocol."""
        if self.protocol != V2:
            return None
        try:
            response = requests.get(self.url, timeout=timeout, headers=self.headers, allow_redirects=False)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise BackendError(f"The {self.role} V2 model at {self.url} gave no metadata: {exc}",
                               hint="Check the URL: KServe's form is http://HOST/v2/models/NAME.") from exc

    def v2_inputs(self) -> dict[str, V2Tensor]:
        metadata = self.metadata()
        return {tensor.name: tensor for tensor in metadata_inputs(metadata or {})}

    def body(self, frame: pd.DataFrame, inputs: dict[str, V2Tensor] | None = None) -> bytes:
        """The request for the rows of `frame`, in this endpoint's protocol."""
        if self.protocol == V2:
            return v2_body(frame, list(frame.columns), inputs)
        return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False,
                                                                      date_format="iso"))}).encode()

    def answer(self, payload: object) -> object:
        """An answer's JSON in the shape the prediction parser reads (V2 outputs become records)."""
        return v2_predictions(payload) if self.protocol == V2 else payload

    def wait_ready(self, timeout: float = 120.0, still_starting: Callable[[], None] | None = None) -> float:
        """Poll GET /ping until it answers 200; returns the seconds waited.

        `still_starting` is called between polls and may raise to stop waiting early (the
        backend uses it to notice that the server process has died)."""
        start = time.monotonic()
        last_error = "no answer yet"
        while time.monotonic() - start < timeout:
            try:
                response = requests.get(self.ready_url, timeout=2, headers=self.headers, allow_redirects=False)
                if response.status_code == 200:
                    return time.monotonic() - start
                last_error = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            if still_starting is not None:
                still_starting()
            time.sleep(0.1)
        raise EndpointNotReady(
            f"The {self.role} model server at {self.ready_url} did not answer within {timeout:.0f} s "
            f"(last error: {last_error}).", url=self.url, last_error=last_error,
            hint="Look at the server log on the Environment page; a larger model may need a longer timeout.",
        )

    def healthy(self) -> bool:
        try:
            response = requests.get(self.ready_url, timeout=1, headers=self.headers, allow_redirects=False)
            return response.status_code == 200
        except requests.RequestException:
            return False

    def invoke(self, frame: pd.DataFrame, timeout: float = 30.0, score_column: str | None = None) -> list[Prediction]:
        """Score a DataFrame in one request (`dataframe_split`, or a V2 tensor per column);
        raises BackendError on failure."""
        inputs = self.v2_inputs() if self.protocol == V2 else None
        try:
            response = requests.post(self.invocations_url, data=self.body(frame, inputs), headers=self.headers,
                                     allow_redirects=False,
                                     timeout=timeout)
        except requests.RequestException as exc:
            raise BackendError(f"The {self.role} model at {self.url} could not be reached: {exc}") from exc
        if response.status_code != 200:
            raise BackendError(f"The {self.role} model at {self.url} answered HTTP {response.status_code}: "
                               f"{response.text[:300]}")
        try:
            return parse_predictions(self.answer(response.json()), score_column)
        except ValueError as exc:
            raise BackendError(f"The {self.role} model at {self.url} answered something unreadable: {exc}") from exc

    def as_dict(self) -> dict:
        return {"role": self.role, "url": self.url, "backend": self.backend, "protocol": self.protocol,
                "model": self.model.as_dict() if self.model else None}
