"""Where an oracle that cannot share the app's environment lives: the Python of its own venv
(made by a script in bench/), or a skip when it is missing, unless CI requires it."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def oracle_python(name: str) -> Path:
    """`.venv-<name>/bin/python` (or $STAGING_<NAME>_PYTHON); a missing one skips the calling
    module, and fails it when $STAGING_REQUIRE_<NAME> is 1 (scripts/test sets it)."""
    python = Path(os.environ.get(f"STAGING_{name.upper()}_PYTHON", ROOT / f".venv-{name}" / "bin" / "python"))
    if not python.exists():
        if os.environ.get(f"STAGING_REQUIRE_{name.upper()}") == "1":
            raise RuntimeError(f"{python} is missing: run `bash bench/setup-{name}`")
        pytest.skip(f"no {name} environment (bash bench/setup-{name} makes one)", allow_module_level=True)
    return python
