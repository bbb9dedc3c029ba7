"""Container images: the base image, one runtime image per requirement set, and one thin
hermetic image per model version.

A runtime image holds a virtual environment installed from a wheelhouse of the model's
pinned requirements plus the scoring server's (downloaded on the host with `pip download`,
kept in a cache every home shares). pip inside the build installs from the wheelhouse only
and the build runs with no network, so it needs no registry and gives the same image
anywhere. It is tagged by the requirements' hash and built once, under a lock, however many
models need it at the same time: the slow part of a cold start happens once.
A model image adds the model's files, the unprivileged user and the server command to its
runtime image; its tag hashes that context, so the same model reuses its image.

No registry can be reached on some engines, so `build_base_image` (`python -m staging
base-image`) makes a base image from Debian's packages: debootstrap of bookworm minbase
with python3 and python3-venv, then `docker import`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from ...errors import BackendError, ConfigurationError
from ...home import SandboxHome
from ...refs import ModelRef
from ...registry.model_files import model_files
from ...settings import BASE_IMAGE_ENV
from ..mlserver import MLSERVER_REQUIREMENTS, MLSERVER_RUNTIME, server_folder
from ..wheels import Log, model_requirements, quiet, wheelhouse

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BUILT_BASE_IMAGE = "staging-sandbox/python:3.11-bookworm"
IMAGE_REPOSITORY = "staging-sandbox/model"
LABEL = "io.staging-sandbox"
DEBIAN_MIRROR = "http://deb.debian.org/debian"

_BUILD_LOCK = threading.Lock()  # flock is per open file: threads of one process need their own lock

RUNTIME_REPOSITORY = "staging-sandbox/runtime"

RUNTIME_INSTALL = ("python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --no-cache-dir --find-links "
                   "/wheelhouse -r /wheelhouse/requirements.txt && useradd --uid 10001 --no-create-home "
                   "--shell /usr/sbin/nologin model")
RUNTIME_CONFIG = {
    "Env": ["PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "HOME=/tmp", "OMP_NUM_THREADS=1",
            "MLFLOW_TRACKING_URI=file:///tmp/mlruns",
            "PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "WorkingDir": "/tmp",
}

# The container has no network (`network_mode=none`): the server listens on its own loopback
# and `socket_bridge` joins that port to /sock/server.sock, the one way in (see docker_backend).
BRIDGE = ("/opt/venv/bin/python /opt/socket_bridge.py unix-to-tcp /sock/server.sock 127.0.0.1 8080 & "
          "exec ")
DOCKERFILE = """\
FROM {runtime}
COPY model/ /opt/model/
COPY socket_bridge.py /opt/socket_bridge.py
USER 10001
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 CMD ["/opt/venv/bin/python", "-c", \\
 "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/ping', timeout=2).status != 200)"]
CMD ["/bin/sh", "-c", "{bridge}/opt/venv/bin/mlflow models serve -m /opt/model --env-manager local -h 127.0.0.1 \\
-p 8080 -w 1"]
"""


MLSERVER_DOCKERFILE = """\
FROM {runtime}
COPY model/ /opt/model/
COPY server/ /opt/server/
COPY socket_bridge.py /opt/socket_bridge.py
USER 10001
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 CMD ["/opt/venv/bin/python", "-c", \\
 "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2).status != 200)"]
CMD ["/bin/sh", "-c", "{bridge}/opt/venv/bin/mlserver start /opt/server"]
"""



def image_exists(client, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_base_image(client, log: Log = quiet, wanted: str | None = None) -> str:
    """The base image to build on: `wanted` ($STAGING_BASE_IMAGE), else python:3.11-slim (pulled
    if missing), else the one `python -m staging base-image` builds; else a clear error."""
    import docker.errors

    candidates = [wanted] if wanted else [DEFAULT_BASE_IMAGE, BUILT_BASE_IMAGE]
    for name in candidates:
        if image_exists(client, name):
            return name
    for name in candidates:
        try:
            log(f"pulling {name}…")
            client.images.pull(name)
            return name
        except docker.errors.APIError:
            continue
    raise BackendError(
        f"The base image {' or '.join(candidates)} is not on this Docker engine, and it cannot be pulled "
        "(no registry answers).",
        hint="Build one from Debian's packages with `python -m staging base-image` (about a minute), "
             f"or set {BASE_IMAGE_ENV} to an image the engine has.",
    )


def build_base_image(client, log: Log = print, mirror: str = DEBIAN_MIRROR) -> str:
    """debootstrap bookworm minbase + python3 + python3-venv, imported as BUILT_BASE_IMAGE."""
    if shutil.which("debootstrap") is None:
        raise ConfigurationError("debootstrap is not installed.", hint="apt-get install -y debootstrap")
    with tempfile.TemporaryDirectory(prefix="staging-base-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap bookworm (minbase, python3, python3-venv) from {mirror}…")
        done = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv",
                               "bookworm", str(root), mirror], capture_output=True, text=True)
        if done.returncode != 0:
            raise BackendError("debootstrap failed.", hint="Check that Debian's mirror is reachable.",
                               detail=(done.stdout + done.stderr)[-3000:])
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(root / junk, ignore_errors=True)
        archive = Path(tmp) / "rootfs.tar"
        log("packing the root filesystem…")
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        log(f"docker import as {BUILT_BASE_IMAGE}…")
        repository, tag = BUILT_BASE_IMAGE.split(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag,
                                          changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"])
    return BUILT_BASE_IMAGE


_background: dict[str, Any] = {"thread": None}


def build_base_image_in_background(client, log_path: Path, then: Callable[[Log], object] | None = None) -> bool:
    """Start building the base image in a thread of this process (once), logging to `log_path`,
    and afterwards run `then` (which warms the model images, say); False when it cannot be built
    here (no debootstrap, not root), so nothing was started."""
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        return False
    thread = _background["thread"]
    if thread is not None and thread.is_alive():
        return True

    def work() -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            write = lambda line: print(line, file=log, flush=True)
            try:
                build_base_image(client, write)
            except Exception as exc:  # noqa: BLE001 - a background build reports in its log, never on a page
                write(f"the base image could not be built: {exc}")
                return
            try:
                if then is not None:
                    then(write)
            except Exception as exc:  # noqa: BLE001 - as above
                write(f"the base image is ready; warming the model images stopped: {exc}")

    thread = threading.Thread(target=work, name="base-image", daemon=True)
    _background["thread"] = thread
    thread.start()
    return True


def ensure_runtime_image(client, home: SandboxHome, requirements: list[str], base_image: str,
                         log: Log = quiet, rebuild: bool = False) -> str:
    """The tag of the runtime image for `requirements` on `base_image`, built now if the engine
    lacks it. One build at a time per requirement set, across threads and processes."""
    wheels = wheelhouse(home, requirements, log)
    digest = hashlib.sha256(base_image.encode())
    digest.update((wheels / "requirements.txt").read_bytes())
    for path in sorted(wheels.glob("*.whl")):
        digest.update(path.name.encode())
    tag = f"{RUNTIME_REPOSITORY}:{digest.hexdigest()[:16]}"
    with _BUILD_LOCK, open(wheels.with_suffix(".image.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(client, tag) and not rebuild:
            log(f"reusing runtime image {tag}")
        else:
            if rebuild and image_exists(client, tag):
                _patient_api().remove_image(tag, force=True)
            log(f"building runtime image {tag} on {base_image} (no network, wheels only; once per requirement set)…")
            _install_runtime(client, wheels, base_image, tag, log)
        try:  # a second name that says which requirement set is built (a proxy may not allow it: then unsaid)
            client.images.get(tag).tag(RUNTIME_REPOSITORY, requirements_tag(requirements, base_image))
        except DockerException as exc:
            log(f"the runtime image's requirements tag was not set: {exc}")
    return tag


def requirements_tag(requirements: list[str], base_image: str) -> str:
    """The runtime image's second tag, by its requirements and base alone: whether one is built can
    be asked of the engine without a wheelhouse (a fresh home has none yet)."""
    return "req-" + hashlib.sha256("\n".join([base_image, *sorted(requirements)]).encode()).hexdigest()[:16]


def runtime_ready(client, home: SandboxHome, refs: list[ModelRef], base_image: str | None = None) -> bool:
    """Whether every model's runtime image is in the engine already (so a start builds, at most,
    the thin model image on top: seconds, not the minute a runtime takes)."""
    base = resolve_base_image(client, quiet, base_image)
    for ref in refs:
        requirements = model_requirements(model_files(home, ref) / "model")
        if not image_exists(client, f"{RUNTIME_REPOSITORY}:{requirements_tag(requirements, base)}"):
            return False
    return True


def _patient_api():
    """A low-level client for the engine's slow calls (commit, disk usage): the usual client
    gives up after 3 s, which suits a ping, not these."""
    import docker

    return docker.from_env(timeout=900).api


def _install_runtime(client, wheels: Path, base_image: str, tag: str, log: Log) -> None:
    """Install the wheelhouse into a venv in a container with no network, then commit it. The
    wheels are copied in through the API (so an app inside compose, whose paths the engine
    cannot see, works too) and deleted before the commit, so they never become a layer, and the
    venv is written once, not copied out of a build stage: a cold runtime took 45 s as a
    two-stage Dockerfile build and takes about 31 s this way."""
    patient = _patient_api()  # committing 600 MB outlasts the usual client's short timeout
    command = f"{RUNTIME_INSTALL} && rm -rf /wheelhouse"
    container = client.containers.create(base_image, ["/bin/sh", "-c", command], network_mode="none",
                                         labels={f"{LABEL}.runtime-build": "1"})
    try:
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                tar.add(str(wheels), arcname="wheelhouse")
            archive.seek(0)
            patient.put_archive(container.id, "/", archive)
        container.start()
        status = container.wait(timeout=1800)
        output = container.logs().decode(errors="replace")
        for line in output.splitlines()[-3:]:
            log(line)
        if status.get("StatusCode") != 0:
            raise BackendError("The runtime image failed to build: pip could not install the model's requirements.",
                               hint="The install log tail is below.", detail=output[-3000:])
        repository, _, version_tag = tag.partition(":")
        patient.commit(container.id, repository=repository, tag=version_tag,
                       conf={**RUNTIME_CONFIG, "Labels": {f"{LABEL}.runtime": "1"}})
    finally:
        patient.remove_container(container.id, force=True)


def build_context(home: SandboxHome, ref: ModelRef, runtime: str, log: Log = quiet,
                  server: str = "mlflow") -> tuple[Path, str]:
    """(context folder, content hash) for one model version's image on the runtime image
    `runtime`, serving with MLflow's scoring server or MLServer (`server`)."""
    context = model_files(home, ref, log)
    shutil.rmtree(context / "server", ignore_errors=True)
    if server == MLSERVER_RUNTIME:
        server_folder(context / "server", ref, Path("/opt/model"), 8080, 8081, host="127.0.0.1")
        (context / "Dockerfile").write_text(MLSERVER_DOCKERFILE.format(runtime=runtime, bridge=BRIDGE))
    else:
        (context / "Dockerfile").write_text(DOCKERFILE.format(runtime=runtime, bridge=BRIDGE))
    shutil.copyfile(Path(__file__).with_name("socket_bridge.py"), context / "socket_bridge.py")
    digest = hashlib.sha256(runtime.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(path.read_bytes())
    return context, digest.hexdigest()[:16]


def ensure_model_image(client, home: SandboxHome, ref: ModelRef, log: Log = quiet,
                       rebuild: bool = False, base_image: str | None = None,
                       server: str = "mlflow") -> tuple[str, bool]:
    """(image tag, whether it was built now); an image with the same content hash is reused
    unless `rebuild`, which also rebuilds its runtime image without the engine's build cache
    (a cold build). `server="mlserver"` serves the model with MLServer (V2), installed in the
    runtime image from the same wheelhouse."""
    base = resolve_base_image(client, log, base_image)
    model_dir = model_files(home, ref, log) / "model"
    requirements = model_requirements(model_dir)
    if server == MLSERVER_RUNTIME:
        requirements = sorted(set(requirements) | set(MLSERVER_REQUIREMENTS))
    runtime = ensure_runtime_image(client, home, requirements, base, log, rebuild)
    context, digest = build_context(home, ref, runtime, log, server)
    tag = f"{IMAGE_REPOSITORY}:{digest}"
    if image_exists(client, tag):
        if not rebuild:
            log(f"reusing image {tag}")
            return tag, False
        _patient_api().remove_image(tag, force=True)
    log(f"building image {tag} on {runtime}…")
    labels = {f"{LABEL}.model": ref.name, f"{LABEL}.version": ref.version}
    try:
        _build(client, context, tag, labels, rebuild, log, f"the image for {ref.uri}")
    except BackendError as exc:
        if STALE_PARENT not in exc.message:
            raise
        # the engine's build cache named a parent layer removed meanwhile (a runtime image rebuilt
        # by another build): build once more without the cache, on the runtime image as it is now
        log("the build cache named a parent image removed meanwhile; building again without it…")
        ensure_runtime_image(client, home, requirements, base, log)  # the same tag, rebuilt if it was removed
        _build(client, context, tag, labels, True, log, f"the image for {ref.uri}")
    return tag, True


STALE_PARENT = "unknown parent image ID"  # the engine's words for a cached parent layer that is gone


def _build(client, context: Path, tag: str, labels: dict[str, str], nocache: bool, log: Log, what: str) -> None:
    lines = []
    for chunk in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True,
                                  network_mode="none", labels=labels, nocache=nocache):
        if "stream" in chunk and chunk["stream"].strip():
            lines.append(chunk["stream"].rstrip())
            log(chunk["stream"].rstrip())
        if "error" in chunk:
            raise BackendError(f"{what[0].upper()}{what[1:]} failed to build: {chunk['error'].strip()}",
                               hint="The build log tail is below.", detail="\n".join(lines[-30:]))


def warm_model_images(client, home: SandboxHome, log: Log = quiet) -> list[str]:
    """Build the images of every registered model's champion and challenger, so that the next
    start on containers (the demo's second run, say) finds them, or at least their dependency
    layer, in the engine; returns the tags. A model that cannot be built is logged and skipped."""
    from ...registry.client import Registry
    from ...roles import CHALLENGER, CHAMPION

    registry = Registry(home)
    tags = []
    for name in registry.model_names():
        for alias, model_version in sorted(registry.aliases(name).items()):
            if alias not in (CHAMPION, CHALLENGER):
                continue
            try:
                tags.append(ensure_model_image(client, home, ModelRef(name, model_version), log)[0])
            except BackendError as exc:
                log(f"{name} v{model_version} was not warmed: {exc.message}")
    return tags


def prune_model_images(client, keep: int = 3, log: Log = quiet) -> dict:
    """Remove the sandbox's model images except those of each model's `keep` newest versions
    (and those a running container uses), then the runtime images left with no model image on
    them; returns what was removed and the space freed."""
    import docker.errors

    if keep < 0:
        raise ConfigurationError("--keep must be 0 or more.", hint="For example --keep 3.")
    patient = _patient_api()  # the engine counts every layer's bytes: seconds on a busy engine
    layers_before = int(patient.df().get("LayersSize") or 0)
    images = client.images.list(name=IMAGE_REPOSITORY)
    in_use = {c.image.id for c in client.containers.list(all=True) if c.image is not None}
    by_model: dict[str, list] = {}
    for image in images:
        labels = image.labels or {}
        by_model.setdefault(labels.get(f"{LABEL}.model", "?"), []).append(image)
    removed = []
    for model, group in by_model.items():
        versions = sorted({int(i.labels.get(f"{LABEL}.version", 0) or 0) for i in group}, reverse=True)[:keep]
        for image in group:
            if int(image.labels.get(f"{LABEL}.version", 0) or 0) in versions or image.id in in_use:
                continue
            size = int(image.attrs.get("Size", 0))
            try:
                patient.remove_image(image.id, force=False)  # deleting layers outlasts a 3 s timeout when busy
            except docker.errors.APIError as exc:  # shared layers or a tag in use: say so, keep going
                log(f"kept {image.tags or image.id[:19]}: {exc.explanation or exc}")
                continue
            removed.append({"model": model, "version": image.labels.get(f"{LABEL}.version"),
                            "image": (image.tags or [image.id[:19]])[0], "bytes": size})
    for image in client.images.list(name=RUNTIME_REPOSITORY):  # a runtime no model image is built on
        size = int(image.attrs.get("Size", 0))
        try:
            patient.remove_image(image.id, force=False)
        except docker.errors.APIError:  # it has model images on top, or a container uses it
            continue
        removed.append({"model": "(runtime)", "version": None, "image": (image.tags or [image.id[:19]])[0],
                        "bytes": size})
    # images share layers (a runtime under its models), so the space freed is the engine's own count
    freed = max(0, layers_before - int(patient.df().get("LayersSize") or 0))
    return {"removed": removed, "freed_bytes": freed, "freed_mb": round(freed / 1e6, 1), "kept_versions": keep}


APP_IMAGE = "staging-sandbox/app:latest"
APP_WHEELHOUSE = ".app-wheelhouse"


def build_app_image(client, root: Path, log: Log = print) -> str:
    """The app's own image for compose.yaml: wheels of the app's pinned dependencies
    (pyproject.toml) downloaded on the host, plus the model images' extra pins, installed with
    no network on the base image."""
    base = resolve_base_image(client, log)
    with open(root / "pyproject.toml", "rb") as handle:
        requirements = list(tomllib.load(handle)["project"]["dependencies"])
    wheels = root / APP_WHEELHOUSE
    wheels.mkdir(exist_ok=True)
    extra = [f"{name}=={version(name)}" for name in ("joblib", "cloudpickle")]  # the demo models' pins too
    log(f"pip download of the app's requirements into {wheels} …")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(wheels),
                           *requirements, *extra], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackendError("The app's requirements could not be downloaded as wheels.",
                           detail=(done.stdout + done.stderr)[-3000:])
    (wheels / "requirements.txt").write_text("\n".join(requirements) + "\n")
    log(f"building {APP_IMAGE} on {base} (no network)…")
    for chunk in client.api.build(path=str(root), dockerfile="docker/app.Dockerfile", tag=APP_IMAGE, rm=True,
                                  forcerm=True, decode=True, network_mode="none", buildargs={"BASE": base}):
        if "stream" in chunk and chunk["stream"].strip():
            log(chunk["stream"].rstrip())
        if "error" in chunk:
            raise BackendError(f"The app image failed to build: {chunk['error'].strip()}")
    return APP_IMAGE
