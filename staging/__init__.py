"""The staging sandbox: compare a registered model's challenger with its champion on
recorded traffic, then promote or roll back.

The public surface is what `__all__` lists (a test holds it to `_EXPORTS`); pages, the
command line and benchmarks depend on it, and the rooms behind it can move. Names are
imported on first use, so that importing `staging` costs nothing: the analytics and the
replay worker, which import their own modules directly, load neither MLflow nor the
Docker SDK nor streamlit.
"""

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

__all__ = [
    "BackendError",
    "CHALLENGER",
    "CHAMPION",
    "ConfigurationError",
    "Credentials",
    "ModelRef",
    "ModelRefused",
    "PromotionError",
    "RegistryError",
    "ReplaySettings",
    "RunError",
    "RunEvidence",
    "RunManifest",
    "SCENARIOS",
    "Sandbox",
    "SandboxHome",
    "Scenario",
    "ServerStartError",
    "Settings",
    "SignatureMismatchError",
    "StagingError",
    "TrafficError",
    "TrafficSelection",
]

_EXPORTS = {
    "BackendError": "errors", "ConfigurationError": "errors", "PromotionError": "errors",
    "RegistryError": "errors", "RunError": "errors", "ServerStartError": "errors",
    "SignatureMismatchError": "errors", "StagingError": "errors", "TrafficError": "errors",
    "SandboxHome": "home", "CHALLENGER": "roles", "CHAMPION": "roles", "ModelRef": "refs",
    "ReplaySettings": "runs.settings", "RunManifest": "runs", "RunEvidence": "evidence", "Settings": "settings",
    "ModelRefused": "errors", "Credentials": "registry.team",
    "Sandbox": "sandbox", "TrafficSelection": "traffic.selection",
    "SCENARIOS": "registry.scenarios", "Scenario": "registry.scenarios",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'staging' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
