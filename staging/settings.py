"""The sandbox's settings, read from the environment once, when a `Sandbox` (or a command)
starts, into one frozen value; no other module reads the environment for them.

    STAGING_HOME               the sandbox home (default .staging in the working directory)
    STAGING_TRACKING_URI       an MLflow tracking server instead of the home's sqlite store
    STAGING_BACKEND            auto, docker, process or endpoint (default auto)
    STAGING_BASE_IMAGE         the containers' base image (default python:3.11-slim, else the built one)
    STAGING_CONTAINER_MEMORY   each model container's memory limit (default 1g)
    STAGING_CONTAINER_CPUS     each model container's CPUs (default 1)
    STAGING_CONTAINER_PIDS     each model container's process limit (default 256)
    STAGING_SOCKET_DIR         where the model containers' sockets are made (default
                               /tmp/staging-sockets-UID; inside compose, a host path mounted at the
                               same path in the app's container)
    STAGING_WHEEL_CACHE        where model images' wheelhouses are kept, shared by every home
                               (default $XDG_CACHE_HOME/staging-sandbox/wheelhouses, else ~/.cache/…)
    STAGING_TEAM_MODE          1: a shared tracking server with MLflow's basic-auth app; sign-offs carry
                               the reviewer's MLflow credentials (needs STAGING_TRACKING_URI)
    STAGING_ALLOWED_HOSTS      endpoint hosts traffic may be sent to, beyond loopback (comma-separated)
    STAGING_ENDPOINT_TOKEN     a bearer token for the endpoint backend's servers; read when a request
                               is made (`endpoint_token`), never stored in `Settings`, never written
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # the endpoint allow-list's floor (serving/destinations)
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)*")

HOME_ENV = "STAGING_HOME"
TRACKING_ENV = "STAGING_TRACKING_URI"
BACKEND_ENV = "STAGING_BACKEND"
BASE_IMAGE_ENV = "STAGING_BASE_IMAGE"
MEMORY_ENV = "STAGING_CONTAINER_MEMORY"
CPUS_ENV = "STAGING_CONTAINER_CPUS"
PIDS_ENV = "STAGING_CONTAINER_PIDS"
SOCKET_DIR_ENV = "STAGING_SOCKET_DIR"
WHEEL_CACHE_ENV = "STAGING_WHEEL_CACHE"
ALLOWED_HOSTS_ENV = "STAGING_ALLOWED_HOSTS"
TEAM_MODE_ENV = "STAGING_TEAM_MODE"
ENDPOINT_TOKEN_ENV = "STAGING_ENDPOINT_TOKEN"
DEFAULT_HOME = ".staging"


@dataclass(frozen=True)
class ContainerLimits:
    """Applied alike to champion and challenger."""

    memory: str = "1g"
    cpus: float = 1.0
    pids: int = 256


@dataclass(frozen=True)
class Settings:
    home: str = DEFAULT_HOME
    tracking_uri: str | None = None
    backend: str = "auto"
    base_image: str | None = None
    limits: ContainerLimits = ContainerLimits()
    socket_dir: str | None = None  # None: /tmp/staging-sockets-UID
    wheel_cache: str | None = None  # None: the home's own `wheelhouses/` folder
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS  # endpoint hosts traffic may go to
    team_mode: bool = False  # sign-offs as MLflow users on a tracking server with basic auth

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(home=env.get(HOME_ENV) or DEFAULT_HOME, tracking_uri=env.get(TRACKING_ENV) or None,
                   backend=env.get(BACKEND_ENV) or "auto", base_image=env.get(BASE_IMAGE_ENV) or None,
                   limits=ContainerLimits(memory=env.get(MEMORY_ENV) or "1g",
                                          cpus=_number(env, CPUS_ENV, "1.0", float),
                                          pids=_number(env, PIDS_ENV, "256", int)),
                   socket_dir=env.get(SOCKET_DIR_ENV) or None,
                   wheel_cache=env.get(WHEEL_CACHE_ENV) or _default_wheel_cache(env),
                   allowed_hosts=_hosts(env), team_mode=_team_mode(env))


def _team_mode(env: Mapping[str, str]) -> bool:
    raw = (env.get(TEAM_MODE_ENV) or "0").strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigurationError(f"{TEAM_MODE_ENV}={raw!r} is neither on nor off.", hint="Set it to 1 or 0.")
    on = raw in ("1", "true", "yes")
    if on and not (env.get(TRACKING_ENV) or "").startswith(("http://", "https://")):
        raise ConfigurationError(f"{TEAM_MODE_ENV}=1 needs a shared tracking server, and {TRACKING_ENV} names none.",
                                 hint=f"Set {TRACKING_ENV} to the server's URL (http://mlflow:5000 in compose), or "
                                      f"unset {TEAM_MODE_ENV}.")
    return on


def _hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return allowed_hosts(env.get(ALLOWED_HOSTS_ENV))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{ALLOWED_HOSTS_ENV}: {exc.message}", hint=exc.hint) from exc


def endpoint_token(environ: Mapping[str, str] | None = None) -> str:
    """The endpoint backend's bearer token, read when a request is made so that it lives in
    no value that could be printed, pickled or written down."""
    return (os.environ if environ is None else environ).get(ENDPOINT_TOKEN_ENV, "").strip()


def _default_wheel_cache(env: Mapping[str, str]) -> str:
    """Wheels of pinned requirements never change, so every home on the machine shares them."""
    cache = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "staging-sandbox", "wheelhouses")


def _number(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], Any]) -> Any:
    raw = env.get(name) or default
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} is not a positive {'whole ' if kind is int else ''}number.",
                                 hint=f"Set {name} to a number above 0, such as {default}, or unset it.")
    return value


SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|CREDENTIAL|_KEY$|^AWS_|^AZURE_|^GOOGLE_APPLICATION", re.IGNORECASE)


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a process that runs model code: every variable whose name says it
    holds a secret (MLflow's password and token, the endpoint token, cloud keys) left out."""
    return {name: value for name, value in environ.items() if not SECRET_NAME.search(name)}




def normal_host(host: str) -> str:
    """A host as compared against the list: lower case, an IP in canonical form; or a
    ConfigurationError for text that is neither a host name nor an IP address."""
    text = host.strip().strip("[]").lower()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not HOST_NAME.fullmatch(text) or text.replace(".", "").isdigit() or text.startswith("0x"):
        raise ConfigurationError(f"'{host}' is not a host name or an IP address.",
                                 hint="Give a host such as models.internal, 10.0.0.5 or ::1.")
    return text


def allowed_hosts(*extra: Iterable[str] | str | None) -> tuple[str, ...]:
    """Loopback plus every host in `extra` (lists or comma-separated text), normalised, in order."""
    hosts = list(LOOPBACK_HOSTS)
    for group in extra:
        items = group.split(",") if isinstance(group, str) else (group or [])
        for item in items:
            if item.strip() and normal_host(item) not in hosts:
                hosts.append(normal_host(item))
    return tuple(hosts)
