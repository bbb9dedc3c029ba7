"""Traffic, labels and references read where production keeps them: any fsspec URL (`s3://`, and
`gs://`, `memory://`, … through the same code), fetched once into the sandbox home before
anything reads it, so that everything after reads a local file exactly as it reads an upload.

- **One object** is fetched as it is.
- **A prefix** (a URL that names no object) is every object under it, in time order (last
  modified, then key), joined into one file of their kind: JSON Lines and CSV line by line (one
  header kept), Parquet row group by row group. With a time window, a SageMaker Data Capture
  tree (`…/yyyy/mm/dd/hh/`) is listed hour by hour inside the window, never whole.
- **A KServe logger object** (one JSON request per object, no time inside) becomes one JSON Lines
  record whose time is the object's last-modified time; the fetch says so, and so does the run.
- **What was read** (the URL, each object's key, size, ETag and time) is recorded with the run
  (`Fetched.as_record`), so that "which traffic was this?" has an answer after the bucket changes.
  The copy is kept by those ETags: the same objects are not fetched twice.
- **Credentials** come from the standard AWS chain through s3fs and botocore (the environment, a
  profile, a role); an S3-compatible server is named by `AWS_ENDPOINT_URL`. None is ever written.
- **Bad input** (no such bucket or key, access denied, an empty prefix, an object of a kind the
  sandbox cannot read) is one `TrafficError` naming the URL and what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..errors import TrafficError

URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.\-]*)://", re.IGNORECASE)
KINDS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
HOURLY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
CHUNK = 8 * 2**20


def is_remote(path: str | Path | None) -> bool:
    """Whether `path` is a URL the sandbox fetches (anything with a scheme but file://)."""
    match = URL.match(str(path or ""))
    return match is not None and match.group("scheme").lower() != "file"


@dataclass(frozen=True)
class RemoteObject:
    key: str
    size: int
    etag: str
    modified: float  # seconds since the epoch (UTC)

    def as_record(self) -> dict:
        return {"key": self.key, "size": self.size, "etag": self.etag,
                "modified": datetime.fromtimestamp(self.modified, UTC).isoformat()}


@dataclass(frozen=True)
class Fetched:
    url: str
    path: Path  # the local copy
    objects: tuple[RemoteObject, ...]
    note: str = ""  # what the reading assumed, in words (times from last-modified)

    def as_record(self) -> dict:
        return {"url": self.url, "objects": [o.as_record() for o in self.objects], "note": self.note}


def read_text(url: str, limit: int = 1 << 20) -> str:
    """A small text object (a policy file) read whole; one sentence when it cannot be."""
    import fsspec

    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read(limit + 1)
    except Exception as exc:  # every failure becomes one sentence naming the URL
        raise _said(url, exc) from exc
    if len(data) > limit:
        raise TrafficError(f"{url} is larger than {limit // 1024} KB, too large for a policy file.",
                           hint="Point at the policy's TOML file itself.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrafficError(f"{url} is not UTF-8 text.", hint="Save the policy as UTF-8 TOML.") from None


def fetch(url: str, folder: Path, window: tuple[datetime, datetime] | None = None,
          progress: Callable[[str], None] | None = None) -> Fetched:
    """The object or prefix at `url` as one local file under `folder` (kept by the objects' ETags)."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
        objects = _objects(fs, root, window)
    except TrafficError:
        raise
    except Exception as exc:
        raise _said(url, exc) from exc
    if not objects:
        raise TrafficError(f"There is no object at {url}" + (" inside the time window." if window else "."),
                           hint="Check the bucket and prefix (and the window); a prefix is read with every object "
                                "under it.")
    kinds = {_kind(o.key) for o in objects}
    if None in kinds or len(kinds) > 1:
        found = ", ".join(sorted({Path(o.key).suffix or "(none)" for o in objects}))
        raise TrafficError(f"The objects at {url} are not all of one kind the sandbox reads (found {found}).",
                           hint="Point at objects of one kind: .jsonl, .json, .csv or .parquet.")
    kind = kinds.pop()
    assert kind is not None
    digest = hashlib.sha256(json.dumps([url, [(o.key, o.etag, o.size) for o in objects]]).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"remote-{digest}{'.jsonl' if kind == 'json' else '.' + kind}"
    note = "times from each object's last-modified time (its records carry none)" if kind == "json" else ""
    if not target.exists():
        partial = target.with_suffix(target.suffix + ".partial")
        try:
            _join(fs, objects, kind, partial, progress)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise _said(url, exc) from exc
        partial.rename(target)
    return Fetched(url, target, tuple(objects), note)


def _objects(fs, root: str, window: tuple[datetime, datetime] | None) -> list[RemoteObject]:
    if fs.isfile(root):
        return [_object(fs.info(root))]
    roots = _hourly_prefixes(fs, root, window) if window else [root]
    found: dict[str, RemoteObject] = {}
    for prefix in roots:
        for key, info in fs.find(prefix, detail=True).items():
            if info.get("type", "file") == "file" and int(info.get("size") or 0) > 0:
                found[key] = _object(info)
    objects = sorted(found.values(), key=lambda o: (o.modified, o.key))
    if window:
        start, end = (moment.timestamp() for moment in window)
        if not HOURLY.search(f"/{objects[0].key}" if objects else ""):
            objects = [o for o in objects if start <= o.modified <= end]
    return objects


def _hourly_prefixes(fs, root: str, window: tuple[datetime, datetime]) -> list[str]:
    """The hour folders of a SageMaker capture tree inside the window (only those that exist);
    the root itself when it is not such a tree."""
    start, end = window
    hour = start.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour <= end:
        prefix = f"{root.rstrip('/')}/{hour:%Y/%m/%d/%H}"
        if fs.exists(prefix):
            prefixes.append(prefix)
        hour += timedelta(hours=1)
    return prefixes or ([] if _looks_hourly(fs, root) else [root])


def _looks_hourly(fs, root: str) -> bool:
    try:
        return any(re.fullmatch(r"\d{4}", Path(name).name) for name in fs.ls(root, detail=False))
    except (FileNotFoundError, NotADirectoryError):
        return False


def _object(info: dict) -> RemoteObject:
    modified = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    if isinstance(modified, datetime):
        moment = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    else:
        seconds = float(modified or 0)
    etag = str(info.get("ETag") or info.get("etag") or info.get("md5") or "").strip('"')
    return RemoteObject(str(info["name"]), int(info.get("size") or 0), etag, seconds)


def _kind(key: str) -> str | None:
    name = key.lower()
    return next((kind for suffix, kind in KINDS.items() if name.endswith(suffix)), None)


def _join(fs, objects: list[RemoteObject], kind: str, target: Path, progress: Callable[[str], None] | None) -> None:
    said = _Progress(progress, sum(o.size for o in objects), len(objects))
    done = 0
    if kind == "parquet":
        import pyarrow.parquet as pq

        writer = None
        try:
            for o in objects:
                with fs.open(o.key, "rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    groups = max(parquet.num_row_groups, 1)
                    for group in range(parquet.num_row_groups):  # a row group at a time: memory stays flat
                        table = parquet.read_row_group(group)
                        writer = writer or pq.ParquetWriter(target, table.schema)
                        writer.write_table(table.cast(writer.schema))
                        said(done + o.size * (group + 1) // groups)
                done += o.size
                said(done, final=o is objects[-1])
        finally:
            if writer is not None:
                writer.close()
        return
    with open(target, "wb") as out:
        for index, o in enumerate(objects):
            with fs.open(o.key, "rb") as handle:
                if kind == "json":
                    record = json.loads(handle.read())
                    line = {"body": record, "request_id": Path(o.key).stem,
                            "timestamp": datetime.fromtimestamp(o.modified, UTC).isoformat()} \
                        if isinstance(record, dict) and "specversion" not in record else record
                    out.write(json.dumps(line).encode() + b"\n")
                else:
                    first, last, read = True, b"\n", 0
                    while chunk := handle.read(CHUNK):
                        read += len(chunk)
                        if kind == "csv" and index and first:  # one header: drop the next objects' first line
                            chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
                        first = False
                        if chunk:
                            out.write(chunk)
                            last = chunk[-1:]
                        said(done + read)
                    if last != b"\n":  # each object ends its last line
                        out.write(b"\n")
            done += o.size
            said(done, final=index == len(objects) - 1)


class _Progress:
    """How much has been read, said at most twice a second (and always at the end)."""

    def __init__(self, progress: Callable[[str], None] | None, total: int, count: int) -> None:
        self.progress, self.total, self.count, self.last = progress, total, count, 0.0

    def __call__(self, done: int, final: bool = False) -> None:
        if self.progress is None or (not final and time.monotonic() - self.last < 0.5):
            return
        self.last = time.monotonic()
        self.progress(f"read {done / 2**20:,.1f} of {self.total / 2**20:,.1f} MB ({self.count:,} object(s))")



def _said(url: str, exc: BaseException) -> TrafficError:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PermissionError) or re.search(r"AccessDenied|Forbidden|403|InvalidAccessKeyId|"
                                                     r"SignatureDoesNotMatch", text):
        return TrafficError(f"Access to {url} was denied.",
                            hint="Check the credentials the standard AWS chain finds (environment, profile, role) "
                                 "and that they may read this bucket.")
    if isinstance(exc, FileNotFoundError) or re.search(r"NoSuchBucket|NoSuchKey|404|Not Found", text):
        return TrafficError(f"There is no such bucket or object: {url}.",
                            hint="Check the bucket's name and the key or prefix.")
    if isinstance(exc, ImportError):
        return TrafficError(f"The sandbox cannot read {url}: no filesystem for its scheme is installed ({exc}).",
                            hint="s3:// works out of the box; install the fsspec package for other schemes.")
    return TrafficError(f"{url} could not be read: {text[:300]}",
                        hint="Check the URL, the network and the credentials; a local copy of the file also works.")
