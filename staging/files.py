"""Files written whole or not at all, kept by their content, and whether a process still runs.

`atomic_write` writes beside the target and renames over it, so a reader (or a crash) never
sees half a file. `keep_by_content` keeps a copy under a folder named by the content's hash,
so the same bytes land in the same place and a different file of the same name never
replaces one a run points at. `process_alive` is the one liveness check of a recorded pid.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .tables import sha256_of


def atomic_write(target: Path, content: str | bytes | Callable[[Path], object]) -> Path:
    """`target` written whole: text, bytes, or a function that writes the file it is given."""
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    if isinstance(content, str):
        partial.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        partial.write_bytes(content)
    else:
        content(partial)
    os.replace(partial, target)
    return target


def keep_by_content(folder: Path, name: str, source: Path | bytes) -> Path:
    """`folder/<sha256 prefix>/<name>`: a copy of `source` (a file or bytes), made once."""
    digest = hashlib.sha256(source).hexdigest() if isinstance(source, bytes) else sha256_of(source)
    kept = folder / digest[:16] / Path(name).name
    kept.parent.mkdir(parents=True, exist_ok=True)
    if not kept.exists():
        atomic_write(kept, source if isinstance(source, bytes) else lambda partial: shutil.copyfile(source, partial))
    return kept


def process_alive(pid: int | None) -> bool:
    """Whether `pid` names a live process (a zombie child counts as gone; another user's counts as alive)."""
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
