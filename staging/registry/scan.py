"""The staging environment's security check: a model version's files scanned before anything
loads them.

A pickled model runs whatever its pickle names when it is loaded, and the process backend
loads it on the host. Every file of a model version is scanned with picklescan (pickles,
joblib, PyTorch and NumPy files, inside zips too) and each global a pickle imports is judged:

- **dangerous** (picklescan's list: `os.system`, `subprocess`, `eval`, `builtins.exec`,
  `importlib`, `runpy`, `socket`, …): the model is refused and the finding named;
- **suspicious** (anything not known to be safe, such as scikit-learn's classes): reported;
- **innocuous**: not listed.

One judgement differs from picklescan's: `functools.partial` only calls what it wraps, and what
it wraps is imported by the pickle on its own and judged there, so it is reported as
suspicious, not refused (scikit-learn's gradient boosting pickles one).

The scan is a value (`ArtifactScan`): the sandbox refuses to start a refused model, the gate
shows the scan as a check, and the report carries it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelRefused
from ..home import SandboxHome
from ..refs import ModelRef

DANGEROUS, SUSPICIOUS = "dangerous", "suspicious"
COMBINATORS = frozenset({("functools", "partial")})  # harmless alone: what they wrap is judged on its own


@dataclass(frozen=True)
class Finding:
    """One global a model's pickle imports, and how dangerous it is."""

    module: str
    name: str
    severity: str

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class ArtifactScan:
    """What scanning a model version's files found."""

    model: str  # models:/NAME/VERSION
    files_scanned: int
    findings: tuple[Finding, ...] = ()
    error: str = ""  # a file the scanner could not read, named
    scanner: str = field(default="picklescan")

    @property
    def dangerous(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == DANGEROUS)

    @property
    def suspicious(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == SUSPICIOUS)

    @property
    def refused(self) -> bool:
        return bool(self.dangerous) or bool(self.error)

    def sentence(self) -> str:
        if self.dangerous:
            return (f"{self.model} is refused: its pickle imports "
                    f"{', '.join(f.target for f in self.dangerous)}, which can run code when the model loads.")
        if self.error:
            return f"{self.model} is refused: {self.error}"
        return (f"{self.model}: {self.files_scanned} file(s) scanned, nothing that can run code on load "
                f"({len(self.suspicious)} import(s) not known to be safe, listed).")

    def as_dict(self) -> dict:
        return {"model": self.model, "scanner": self.scanner, "files_scanned": self.files_scanned,
                "refused": self.refused, "error": self.error,
                "dangerous": [f.target for f in self.dangerous], "suspicious": [f.target for f in self.suspicious]}


def scan_model_files(model: str, folder: Path) -> ArtifactScan:
    """Scan every file under `folder` (one model version's files)."""
    from picklescan.scanner import SafetyLevel, scan_directory_path

    logging.getLogger("picklescan").setLevel(logging.ERROR)  # findings come back as values, not log lines
    result = scan_directory_path(str(folder))
    findings = set()
    for found in result.globals:
        if found.safety == SafetyLevel.Innocuous:
            continue
        dangerous = found.safety == SafetyLevel.Dangerous and (found.module, found.name) not in COMBINATORS
        findings.add(Finding(found.module, found.name, DANGEROUS if dangerous else SUSPICIOUS))
    error = ("the scanner could not read one of its files, so what it would run when loaded is unknown."
             if result.scan_err else "")
    ordered = tuple(sorted(findings, key=lambda f: (f.severity != DANGEROUS, f.target)))
    return ArtifactScan(model, result.scanned_files, ordered, error)


def refuse_dangerous(scans: list[ArtifactScan]) -> None:
    """Raise `ModelRefused` naming every finding when any scanned model is refused."""
    refused = [scan for scan in scans if scan.refused]
    if refused:
        raise ModelRefused(" ".join(scan.sentence() for scan in refused),
                           findings=[f.target for scan in refused for f in scan.dangerous],
                           hint="Nothing was started. Rebuild the model without that code (or from a trusted "
                                "source) and register it as a new version.")


class ScanCache:
    """Each model version's scan, made once: a registered version's files cannot change, and the
    gate asks on every evaluation."""

    def __init__(self) -> None:
        self._scans: dict[str, ArtifactScan] = {}  # models:/NAME/VERSION -> its scan

    def scan(self, home: SandboxHome, refs: dict[str, ModelRef]) -> dict[str, ArtifactScan]:
        """role -> the scan of that model version's files (downloaded once into the home)."""
        from .model_files import model_files  # MLflow loads only when files are fetched: the gate imports this module

        for ref in refs.values():
            if ref.uri not in self._scans:
                self._scans[ref.uri] = scan_model_files(ref.uri, model_files(home, ref) / "model")
        return {role: self._scans[ref.uri] for role, ref in refs.items()}
