"""The staging sandbox: compare a registered model's challenger with its champion on
recorded traffic, then promote or roll back.

The public API is what `__all__` lists; every other module is an implementation detail.
"""

from .errors import (BackendError, ConfigurationError, PromotionError, RegistryError, RunError,
                     ServerStartError, SignatureMismatchError, StagingError, TrafficError)
from .home import SandboxHome
from .registry import CHALLENGER, CHAMPION, ModelRef
from .replay import ReplaySettings
from .sandbox import Sandbox, TrafficSelection
from .scenarios import SCENARIOS, Scenario

__version__ = "0.1.0"

__all__ = [
    "BackendError", "CHALLENGER", "CHAMPION", "ConfigurationError", "ModelRef", "PromotionError",
    "RegistryError", "ReplaySettings", "RunError", "SCENARIOS", "Sandbox", "SandboxHome", "Scenario",
    "ServerStartError", "SignatureMismatchError", "StagingError", "TrafficError", "TrafficSelection",
]
