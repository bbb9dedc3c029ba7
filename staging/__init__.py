"""The staging sandbox: compare a registered model's challenger with its champion on
recorded traffic, then promote or roll back.

The public API is what `__all__` lists; every other module is an implementation detail.
Names are imported on first use, so that `staging.analytics` or the replay worker does
not pay for MLflow and the Docker SDK when it does not need them.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "BackendError": "errors", "ConfigurationError": "errors", "PromotionError": "errors",
    "RegistryError": "errors", "RunError": "errors", "ServerStartError": "errors",
    "SignatureMismatchError": "errors", "StagingError": "errors", "TrafficError": "errors",
    "SandboxHome": "home", "CHALLENGER": "registry", "CHAMPION": "registry", "ModelRef": "registry",
    "ReplaySettings": "replay", "Sandbox": "sandbox", "TrafficSelection": "sandbox",
    "SCENARIOS": "scenarios", "Scenario": "scenarios",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'staging' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
