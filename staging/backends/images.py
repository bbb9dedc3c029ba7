"""Container images: the base image, and one hermetic image per model version.

A model image's build context holds the MLflow model's files, a wheelhouse of its pinned
requirements plus the scoring server's (downloaded on the host with `pip download`), and
a generated Dockerfile. pip inside the build installs from the wheelhouse only and the
build runs with no network, so it needs no registry and gives the same image anywhere.
The tag is a hash of the context: the same model with the same requirements reuses its
image without a rebuild.

No registry can be reached on some engines, so `build_base_image` (`python -m staging
base-image`) makes a base image from Debian's packages: debootstrap of bookworm minbase
with python3 and python3-venv, then `docker import`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow

from ..errors import BackendError, ConfigurationError
from ..home import SandboxHome
from ..refs import ModelRef
from ..registry import configure_mlflow
from ..settings import BASE_IMAGE_ENV

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BUILT_BASE_IMAGE = "staging-sandbox/python:3.11-bookworm"
IMAGE_REPOSITORY = "staging-sandbox/model"
LABEL = "io.staging-sandbox"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SERVER_REQUIREMENTS = [f"mlflow-skinny=={mlflow.__version__}"]

Log = Callable[[str], None]

DOCKERFILE = """\
FROM {base} AS build
COPY wheelhouse/ /wheelhouse/
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --no-cache-dir --find-links /wheelhouse -r /wheelhouse/requirements.txt

FROM {base}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp OMP_NUM_THREADS=1 \\
    MLFLOW_TRACKING_URI=file:///tmp/mlruns PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /tmp
COPY --from=build /opt/venv /opt/venv
COPY model/ /opt/model/
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin model
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 CMD ["/opt/venv/bin/python", "-c", \\
 "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/ping', timeout=2).status != 200)"]
CMD ["/opt/venv/bin/mlflow", "models", "serve", "-m", "/opt/model", "--env-manager", "local", \\
     "-h", "0.0.0.0", "-p", "8080", "-w", "1"]
"""


def _quiet(_: str) -> None:
    return None


def image_exists(client, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_base_image(client, log: Log = _quiet, wanted: str | None = None) -> str:
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


def build_base_image_in_background(client, log_path: Path) -> bool:
    """Start building the base image in a thread of this process (once), logging to `log_path`;
    False when it cannot be built here (no debootstrap, not root), so nothing was started."""
    import threading

    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        return False
    thread = _background["thread"]
    if thread is not None and thread.is_alive():
        return True

    def work() -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            try:
                build_base_image(client, lambda line: print(line, file=log, flush=True))
            except Exception as exc:  # noqa: BLE001 - a background build reports in its log, never on a page
                print(f"the base image could not be built: {exc}", file=log, flush=True)

    thread = threading.Thread(target=work, name="base-image", daemon=True)
    _background["thread"] = thread
    thread.start()
    return True


def _requirements(model_dir: Path) -> list[str]:
    """The model's pinned requirements, with the scoring server's: full `mlflow` becomes
    `mlflow-skinny` (the scoring server needs no tracking server or UI: 510 MB, not 850)."""
    path = model_dir / "requirements.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    reqs = [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-"))]
    reqs = [r for r in reqs if not re.match(r"^mlflow(-skinny)?\b", r)]
    return reqs + SERVER_REQUIREMENTS


def wheelhouse(home: SandboxHome, requirements: list[str], log: Log = _quiet) -> Path:
    """A folder of wheels for `requirements`, downloaded on the host once and reused."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:16]
    folder = home.root / "wheelhouses" / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:  # champion and challenger start in parallel
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "requirements.txt").exists():
            _download_wheels(folder, requirements, log)
    return folder


def _download_wheels(folder: Path, requirements: list[str], log: Log) -> None:
    partial = folder.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "requirements.in").write_text("\n".join(requirements) + "\n")
    log(f"pip download of {len(requirements)} requirements into a wheelhouse…")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(partial),
                           "-r", str(partial / "requirements.in")], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackendError("The model's requirements could not be downloaded as wheels.",
                           hint="Check the model's requirements.txt: every package needs a wheel for Linux x86-64, "
                                "Python 3.11.", detail=(done.stdout + done.stderr)[-3000:])
    (partial / "requirements.in").rename(partial / "requirements.txt")
    partial.rename(folder)


def build_context(home: SandboxHome, ref: ModelRef, base_image: str, log: Log = _quiet) -> tuple[Path, str]:
    """(context folder, content hash) for one model version's image."""
    configure_mlflow(home)
    context = home.root / "images" / f"{ref.name}-v{ref.version}"
    model_dir = context / "model"
    if not (model_dir / "MLmodel").exists():
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        log(f"copying the model files of {ref.uri}…")
        mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=str(model_dir))
    wheels = wheelhouse(home, _requirements(model_dir), log)
    shutil.rmtree(context / "wheelhouse", ignore_errors=True)
    shutil.copytree(wheels, context / "wheelhouse")
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base_image))
    digest = hashlib.sha256(base_image.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(path.read_bytes())
    return context, digest.hexdigest()[:16]


def ensure_model_image(client, home: SandboxHome, ref: ModelRef, log: Log = _quiet,
                       rebuild: bool = False, base_image: str | None = None) -> tuple[str, bool]:
    """(image tag, whether it was built now); an image with the same content hash is reused
    unless `rebuild`, which also skips the engine's build cache (a cold build)."""
    base = resolve_base_image(client, log, base_image)
    context, digest = build_context(home, ref, base, log)
    tag = f"{IMAGE_REPOSITORY}:{digest}"
    if image_exists(client, tag):
        if not rebuild:
            log(f"reusing image {tag}")
            return tag, False
        client.images.remove(tag, force=True)
    log(f"building image {tag} on {base} (no network, wheels only)…")
    lines = []
    labels = {f"{LABEL}.model": ref.name, f"{LABEL}.version": ref.version}
    for chunk in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True,
                                  network_mode="none", labels=labels, nocache=rebuild):
        if "stream" in chunk and chunk["stream"].strip():
            lines.append(chunk["stream"].rstrip())
            log(chunk["stream"].rstrip())
        if "error" in chunk:
            raise BackendError(f"The image for {ref.uri} failed to build: {chunk['error'].strip()}",
                               hint="The build log tail is below.", detail="\n".join(lines[-30:]))
    return tag, True


def prune_model_images(client, keep: int = 3, log: Log = _quiet) -> dict:
    """Remove the sandbox's model images except those of each model's `keep` newest versions
    (and those a running container uses); returns what was removed and the space freed."""
    import docker.errors

    if keep < 0:
        raise ConfigurationError("--keep must be 0 or more.", hint="For example --keep 3.")
    images = client.images.list(name=IMAGE_REPOSITORY)
    in_use = {c.image.id for c in client.containers.list(all=True) if c.image is not None}
    by_model: dict[str, list] = {}
    for image in images:
        labels = image.labels or {}
        by_model.setdefault(labels.get(f"{LABEL}.model", "?"), []).append(image)
    removed, freed = [], 0
    for model, group in by_model.items():
        versions = sorted({int(i.labels.get(f"{LABEL}.version", 0) or 0) for i in group}, reverse=True)[:keep]
        for image in group:
            if int(image.labels.get(f"{LABEL}.version", 0) or 0) in versions or image.id in in_use:
                continue
            size = int(image.attrs.get("Size", 0))
            try:
                client.images.remove(image.id, force=False)
            except docker.errors.APIError as exc:  # shared layers or a tag in use: say so, keep going
                log(f"kept {image.tags or image.id[:19]}: {exc.explanation or exc}")
                continue
            removed.append({"model": model, "version": image.labels.get(f"{LABEL}.version"),
                            "image": (image.tags or [image.id[:19]])[0], "bytes": size})
            freed += size
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
