"""The staging environment's security check: a model version's files scanned before anything
loads them.

A pickled model runs whatever its pickle names when it is loaded, and the process backend
loads it on the host. Every file of a model version is scanned with picklescan (pickles,
joblib, PyTorch and NumPy files, inside zips too) and each global a pickle imports is judged:

- **dangerous** (picklescan's list: `os.system`, `subprocess`, `eval`, `builtins.exec`,
  `importlib`, `runpy`, `socket`, …): the model is refused and the finding named;
- **model code** (cloudpickle's own reconstruction of a custom `PythonModel`: `_make_function`,
  `_make_skeleton_class`, `subimport`, …): the model's own Python code, which runs when it
  loads. It is not refused by name, but it runs only once a user trusts that version
  (`--trust-code`, the Environment page), and the trust is recorded in the run and the gate;
- **suspicious** (anything not known to be safe, such as scikit-learn's classes): reported;
- **innocuous**: not listed.

Every file is listed with its kind: a pickle (scanned), a skops file (checked with skops's own
`get_untrusted_types`: the types it would refuse to load unless told), a native format that
holds no code (XGBoost's JSON/UBJ, LightGBM's text, ONNX…), or metadata.

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

from ..errors import ConfigurationError, ModelRefused
from ..home import SandboxHome
from ..refs import ModelRef

DANGEROUS, MODEL_CODE, SUSPICIOUS = "dangerous", "model code", "suspicious"
COMBINATORS = frozenset({("functools", "partial")})  # harmless alone: what they wrap is judged on its own
CLOUDPICKLE_MODULES = ("cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast", "cloudpickle")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".npy", ".npz", ".bin", ".dill", ".zip")
NATIVE_SUFFIXES = (".json", ".ubj", ".xgb", ".txt", ".lgb", ".cbm", ".onnx", ".safetensors", ".h5", ".keras", ".pb")
METADATA_NAMES = ("MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json",
                  "serving_input_example.json", "registered_model_meta")
TRUST_HINT = ("A custom PythonModel saved with `python_model=MyModel()` is pickled with cloudpickle: its code runs "
              "when it loads. If this version is yours, trust it for this run (`--trust-code champion`, "
              "`--trust-code NAME/VERSION`, or the Environment page's trust box), and the trust is recorded. Or log "
              "it as models-from-code (`mlflow.pyfunc.log_model(python_model=\"model.py\")`), which pickles nothing.")


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
    files: tuple[tuple[str, str], ...] = ()  # (path under the model folder, what kind of file it is)
    imports: tuple[tuple[str, str], ...] = ()  # every (module, name) its pickles import, innocuous ones too

    @property
    def model_code(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == MODEL_CODE)

    @property
    def dangerous(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == DANGEROUS)

    @property
    def suspicious(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == SUSPICIOUS)

    @property
    def refused(self) -> bool:
        return bool(self.dangerous) or bool(self.error)

    def files_sentence(self) -> str:
        if not self.files:
            return "no file"
        return ", ".join(f"{path} ({kind})" for path, kind in self.files)

    def sentence(self) -> str:
        if self.dangerous:
            return (f"{self.model} is refused: its pickle imports "
                    f"{', '.join(f.target for f in self.dangerous)}, which can run code when the model loads.")
        if self.error:
            return f"{self.model} is refused: {self.error}"
        code = (" Its pickle rebuilds the model's own Python code with cloudpickle (a custom PythonModel), which "
                "runs when it loads." if self.model_code else "")
        pickles = sum(1 for _, kind in self.files if kind.startswith("pickle"))
        return (f"{self.model}: {len(self.files) or self.files_scanned} file(s) read: {self.files_sentence()}. "
                + (f"No import in its {pickles} pickle(s) is on the list of those that run other programs"
                   if pickles else "None of them is a pickle, so nothing in them runs code when it loads")
                + f" ({len(self.suspicious)} import(s) not known to be safe, listed).{code}")

    def as_dict(self) -> dict:
        return {"model": self.model, "scanner": self.scanner, "files_scanned": self.files_scanned,
                "refused": self.refused, "error": self.error, "files": [list(f) for f in self.files],
                "dangerous": [f.target for f in self.dangerous], "model_code": [f.target for f in self.model_code],
                "suspicious": [f.target for f in self.suspicious]}


def scan_model_files(model: str, folder: Path) -> ArtifactScan:
    """Scan every file under `folder` (one model version's files)."""
    from picklescan.scanner import SafetyLevel, scan_directory_path

    logging.getLogger("picklescan").setLevel(logging.ERROR)  # findings come back as values, not log lines
    result = scan_directory_path(str(folder))
    findings = set()
    for found in result.globals:
        if found.safety == SafetyLevel.Innocuous:
            continue
        if found.module in CLOUDPICKLE_MODULES:
            severity = MODEL_CODE
        elif found.safety == SafetyLevel.Dangerous and (found.module, found.name) not in COMBINATORS:
            severity = DANGEROUS
        else:
            severity = SUSPICIOUS
        findings.add(Finding(found.module, found.name, severity))
    files, untrusted, classes = _file_kinds(folder)
    findings |= {Finding(name.rsplit(".", 1)[0], name.rsplit(".", 1)[1], SUSPICIOUS) for name in untrusted if "." in name}
    error = ("the scanner could not read one of its files, so what it would run when loaded is unknown."
             if result.scan_err else "")
    ordered = tuple(sorted(findings, key=lambda f: ((f.severity != DANGEROUS, f.severity != MODEL_CODE), f.target)))
    imports = tuple(sorted({(g.module, g.name) for g in result.globals} | set(classes)))
    return ArtifactScan(model, result.scanned_files, ordered, error, files=files, imports=imports)


def _file_kinds(folder: Path) -> tuple[tuple[tuple[str, str], ...], list[str], list[tuple[str, str]]]:
    """Each file under `folder` with its kind, the types skops files would not load untrusted,
    and the classes skops files hold (module, name), read from their JSON schema."""
    files, untrusted, classes = [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = str(path.relative_to(folder))
        if path.name in METADATA_NAMES or path.suffix in (".yaml", ".yml", ".md"):
            kind = "metadata"
        elif path.suffix == ".skops":
            kind, types = _skops_kind(path)
            untrusted += types
            classes += _skops_classes(path)
        elif path.suffix in PICKLE_SUFFIXES:
            kind = "pickle, scanned"
        elif path.suffix in NATIVE_SUFFIXES:
            kind = "native format, holds no code"
        else:
            kind = "data, not loaded as code"
        files.append((relative, kind))
    return tuple(files), untrusted, classes


def _skops_classes(path: Path) -> list[tuple[str, str]]:
    """Every (module, class) a skops file's schema names: plain JSON, nothing loaded."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    found, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__class__"), str) and isinstance(node.get("__module__"), str):
                found.append((node["__module__"], node["__class__"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _skops_kind(path: Path) -> tuple[str, list[str]]:
    from skops.io import get_untrusted_types

    try:
        types = list(get_untrusted_types(file=path))
    except Exception:  # noqa: BLE001 - skops's own errors for a file it cannot read: said as the kind
        return "skops, unreadable by skops's check", []
    return (f"skops, {len(types)} type(s) skops does not trust: {', '.join(types)}" if types else
            "skops, every type trusted by skops"), types


def refuse_dangerous(scans: list[ArtifactScan], trusted: frozenset[str] = frozenset()) -> None:
    """Raise `ModelRefused` naming every finding when any scanned model is refused, or holds its
    own code (cloudpickle) and was not trusted (`trusted`: models:/NAME/VERSION)."""
    refused = [scan for scan in scans if scan.refused]
    if refused:
        raise ModelRefused(" ".join(scan.sentence() for scan in refused),
                           findings=[f.target for scan in refused for f in scan.dangerous],
                           hint="Nothing was started. Rebuild the model without that code (or from a trusted "
                                "source) and register it as a new version. Trusting a version does not lift this: "
                                "these imports run other programs.")
    untrusted = [scan for scan in scans if scan.model_code and scan.model not in trusted]
    if untrusted:
        raise ModelRefused(" ".join(f"{scan.model} holds its own Python code (cloudpickle rebuilds a custom "
                                    "PythonModel when it loads), and it was not trusted." for scan in untrusted),
                           findings=[f.target for scan in untrusted for f in scan.model_code],
                           hint="Nothing was started. " + TRUST_HINT)


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


def trusted_models(choices: list[str] | tuple[str, ...], refs: dict[str, ModelRef]) -> frozenset[str]:
    """The model versions a user trusts, as models:/NAME/VERSION: each choice is a role
    (champion, challenger) or NAME/VERSION (with or without `models:/`)."""
    out = set()
    for choice in choices:
        text = choice.strip()
        if text in refs:
            out.add(refs[text].uri)
            continue
        path = text.removeprefix("models:/")
        name, _, version = path.rpartition("/")
        if not name or not version.isdigit():
            raise ConfigurationError(f"'{choice}' names no model version to trust.",
                                     hint="Give a role (champion, challenger) or NAME/VERSION, e.g. "
                                          "--trust-code churn/3.")
        out.add(f"models:/{name}/{version}")
    return frozenset(out)
