"""What a URL elsewhere serves, checked against the model named before any request is replayed
(the endpoint backend). Three witnesses, the first that can speak decides:

- the sandbox's own server records (`HOME/servers/*.json`): when the URL is one of its servers,
  the record names the model it serves, and any other version is refused by name;
- a V2 model's metadata: its inputs must be the signature's, else the model found there (its
  name and inputs) is named beside the one expected;
- MLflow's scoring server: one validation request built from the signature (a row of plain
  values of each input's type); a schema refusal ("missing inputs") means another model.

A model with no signature cannot be checked this way; the user may skip the check with a
reason, which is recorded on the run beside each model (`ModelEntry.checked`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from ..errors import ConfigurationError
from ..refs import ModelRef
from ..serving.endpoint import Endpoint
from ..serving.protocols import V2, metadata_inputs
from ..traffic import FeatureSpec

SCHEMA_REFUSAL = re.compile(r"missing inputs|enforce schema|Incompatible input types|not match the schema", re.I)
PLAIN_VALUES = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False, "string": "a",
                "datetime": "2026-01-01T00:00:00"}
HINT = ("Point the URL at a server of the version named (the registry's @champion and @challenger), or, for a model "
        "logged without a signature, skip the check with --unchecked-endpoints \"why\" (recorded on the run).")


def own_server_model(servers_dir: Path, url: str) -> dict | None:
    """The model a server the sandbox started is serving at `url`, from its record (None when
    the URL is not one of them)."""
    wanted = _normal(url)
    for path in servers_dir.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and _normal(str(record.get("url", ""))) == wanted:
            model = record.get("model")
            return model if isinstance(model, dict) else None
    return None


def check_served(endpoint: Endpoint, ref: ModelRef, specs: list[FeatureSpec] | None, servers_dir: Path) -> str:
    """How the model at the endpoint was found to be `ref`'s, in words for the run's record; a
    `ConfigurationError` naming the model found there when it is another."""
    where = f"The {endpoint.role} URL {endpoint.url}"
    own = own_server_model(servers_dir, endpoint.url)
    if own is not None:
        found = f"{own.get('name')} v{own.get('version')}"
        if (str(own.get("name")), str(own.get("version"))) != (ref.name, str(ref.version)):
            raise ConfigurationError(f"{where} is the sandbox's own server of {found}, not {ref.name} v{ref.version}.",
                                     hint=HINT)
        return f"the sandbox's own server of {found}"
    if not specs:
        raise ConfigurationError(f"{where} cannot be checked: {ref.name} v{ref.version} has no signature to compare "
                                 "with what the URL serves.", hint=HINT)
    names = [spec.name for spec in specs]
    if endpoint.protocol == V2:
        metadata = endpoint.metadata() or {}
        served = [tensor.name for tensor in metadata_inputs(metadata)]
        missing = [spec.name for spec in specs if spec.required and spec.name not in served]
        unknown = [name for name in served if name not in names]
        if served and (missing or unknown):
            raise ConfigurationError(f"{where} serves the V2 model '{metadata.get('name', '?')}' taking "
                                     f"{_listed(served)}, not {ref.name} v{ref.version}, which takes {_listed(names)}.",
                                     hint=HINT)
        return f"its V2 metadata ('{metadata.get('name', '?')}') takes the signature's inputs" if served else (
            "its V2 metadata lists no inputs to compare")
    answer = _validation_request(endpoint, specs)
    if answer is not None and answer.status_code >= 400 and SCHEMA_REFUSAL.search(answer.text or ""):
        said = _message(answer)
        raise ConfigurationError(f"{where} refused a request shaped like the signature of {ref.name} v{ref.version} "
                                 f"({said}): it serves another model.", hint=HINT)
    if answer is None:
        return "a validation request built from the signature got no answer"
    return f"a validation request built from the signature was answered HTTP {answer.status_code}"


def _validation_request(endpoint: Endpoint, specs: list[FeatureSpec]) -> requests.Response | None:
    row = [PLAIN_VALUES.get(spec.kind, "a") for spec in specs]
    body = json.dumps({"dataframe_split": {"columns": [spec.name for spec in specs], "data": [row]}})
    try:
        return requests.post(endpoint.invocations_url, data=body, headers=endpoint.headers, timeout=15,
                             allow_redirects=False)
    except requests.RequestException:
        return None


def _message(answer: requests.Response) -> str:
    """What the server said, cut to the part that names the inputs it wanted."""
    try:
        text = str(answer.json().get("message", answer.text))
    except (ValueError, AttributeError):
        text = answer.text
    text = " ".join(text.split())
    for pattern in (r"(?:Model is )?missing inputs[^.]*", r"Incompatible input types[^.]*"):
        found = re.search(pattern, text, re.I)
        if found:
            return f"it said: {found.group(0)[:240]}"
    return f"it said: {text[:200]}"


def _listed(names: list[str], most: int = 6) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _normal(url: str) -> str:
    return url.rstrip("/").replace("://localhost", "://127.0.0.1")
