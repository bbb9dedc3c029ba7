"""The sandbox's one exception tree; every error a user can cause is one of these.

    StagingError                 what went wrong, what was expected, what to do (`hint`)
     ├── ConfigurationError      a setting or a path the sandbox cannot use
     ├── RegistryError           the MLflow registry has no such model, version or alias
     │    └── MissingSignature         a version was logged without a signature
     ├── TrafficError            a traffic or label file cannot be read
     │    └── SignatureMismatchError   the file's columns do not fit the model signature
     ├── BackendError            a model server could not be started or reached
     │    ├── ModelRefused             a model's files failed the security scan (`findings`)
     │    ├── ModelEnvironmentError    a model's own environment (its requirements) could not be made
     │    ├── EndpointNotReady         a server never answered /ping (`url`, `last_error`)
     │    └── ServerStartError         the server died or never answered /ping (log tail)
     ├── RunError                a run is missing, unreadable or in the wrong state
     └── PromotionError          a promotion or rollback was refused

Pages show `str(error)` (plus `detail`, a log tail, where there is one); a traceback
never reaches the page. Errors of the libraries underneath (MLflow, the docker SDK) are
turned into these at one boundary, `map_exceptions`, and carry what they are about as
fields, not as text to be split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class StagingError(Exception):
    """Base class: `message` says what happened and what was expected, `hint` what to do."""

    def __init__(self, message: str, *, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ConfigurationError(StagingError):
    """A setting, an environment variable or a path the sandbox cannot use."""


class RegistryError(StagingError):
    """The registry has no such model, version or alias, or refused a change."""


class MissingSignature(RegistryError):
    """A model version was logged without a signature: its inputs must be read from elsewhere."""


class TrafficError(StagingError):
    """A traffic or label file is missing, empty or in a format the sandbox cannot read."""


class SignatureMismatchError(TrafficError):
    """A traffic file's columns do not fit the model signature."""

    def __init__(self, message: str, *, missing=(), extra=(), mistyped=(), hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.missing = list(missing)
        self.extra = list(extra)
        self.mistyped = list(mistyped)


class BackendError(StagingError):
    """A model server could not be started, reached or stopped."""


class ModelRefused(BackendError):
    """A model's files hold a pickle that can run code when loaded; nothing was started."""

    def __init__(self, message: str, *, findings=(), hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.findings = list(findings)


class ModelEnvironmentError(BackendError):
    """A model's requirements could not be installed into its own environment; nothing was started."""


class EndpointNotReady(BackendError):
    """A model server did not answer /ping in time."""

    def __init__(self, message: str, *, url: str, last_error: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.last_error = last_error


class ServerStartError(BackendError):
    """A model server exited or never answered /ping; `detail` holds its log tail."""


class RunError(StagingError):
    """A replay run is missing, unreadable, or not in a state that allows the action."""


class PromotionError(StagingError):
    """A promotion or rollback was refused; the registry was left unchanged."""


@contextmanager
def map_exceptions(mapping: Mapping[type[BaseException], type[StagingError]], what: str,
                   hint: str = "") -> Iterator[None]:
    """Turn a library's exceptions into the sandbox's, at the boundary where the library is
    called (as httpx's `map_exceptions`): `what` says what was being done, the library's own
    message follows, and the original is chained as the cause.

        with map_exceptions({MlflowException: RegistryError}, "Could not read the aliases of 'm'"):
            client.get_registered_model("m")
    """
    try:
        yield
    except StagingError:
        raise
    except tuple(mapping) as exc:
        target = next(to for source, to in mapping.items() if isinstance(exc, source))
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise target(f"{what}: {str(detail)[:500]}", hint=hint) from exc
