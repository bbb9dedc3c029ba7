"""The rules of ARCHITECTURE.md, checked on the source (pure: no server, no registry)."""

import ast
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT

import staging
import staging.ui

STAGING = sorted((ROOT / "staging").rglob("*.py"))
PAGES = [ROOT / "streamlit_app.py", *sorted((ROOT / "app_pages").glob("*.py"))]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


def _tops(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path)}


def test_only_the_ui_package_imports_streamlit():
    importers = {p.relative_to(ROOT).parts[1] for p in STAGING if "streamlit" in _tops(p)}
    assert importers == {"ui"}


def test_pages_talk_to_the_public_surface_only():
    for page in PAGES:
        names = _imports(page)
        assert not {n.split(".")[0] for n in names} & {"docker", "mlflow", "requests", "httpx", "aiohttp"}, page
        deep = {n for n in names if n.startswith("staging.")} - {f"staging.{name}" for name in staging.__all__}
        assert deep <= {"staging.ui"}, (page, deep)
        used = set(re.findall(r"\bui\.(\w+)", page.read_text()))
        assert used <= set(staging.ui.__all__), (page, used - set(staging.ui.__all__))


def test_the_public_surfaces_are_literal_and_complete():
    assert sorted(staging.__all__) == sorted(staging._EXPORTS)
    for name in staging.__all__:
        assert getattr(staging, name) is not None
    assert all(hasattr(staging.ui, name) for name in staging.ui.__all__)


def test_analytics_stay_pure():
    for path in (ROOT / "staging" / "analytics").glob("*.py"):
        assert not _tops(path) & {"streamlit", "docker", "mlflow", "requests", "aiohttp"}, path
        assert not {n for n in _imports(path) if n.startswith("staging.") and not n.startswith(
            ("staging.analytics", "staging.roles", "staging.errors", "staging.tables"))}, path


def test_no_manifest_key_is_read_outside_the_runs_package():
    pattern = re.compile(r"manifest(\[|\.get\()\s*[\"']")
    for path in [*STAGING, *PAGES]:
        if "runs" in path.relative_to(ROOT).parts:
            continue
        assert not pattern.search(path.read_text()), path


def test_no_audit_record_key_is_read_outside_the_decision_package():
    """Outside `staging/decision/` a promotion or rollback is an `AuditRecord`, read by attribute."""
    from staging.decision.record import AuditRecord

    # the keys only a record has (id, at, gate, policy, report, hash also name other documents' keys)
    shared = {"id", "at", "model", "reason", "action", "run_id", "gate", "policy", "report", "hash", "schema"}
    keys = "|".join(f.name for f in dataclasses.fields(AuditRecord) if f.name not in shared)
    pattern = re.compile(rf"(\[|\.get\()\s*[\"']({keys})[\"']")
    for path in [*STAGING, *PAGES]:
        if "decision" in path.relative_to(ROOT).parts:
            continue
        assert not pattern.search(path.read_text()), (path, pattern.search(path.read_text()))


def test_no_import_cycle_between_modules():
    graph = {_module(p): {n for n in _imports(p) if n.startswith("staging")} for p in STAGING}
    modules = set(graph)
    edges = {m: {n if n in modules else n.rsplit(".", 1)[0] for n in deps} & modules - {m} for m, deps in graph.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of design
    edges = {m: {n for n in deps if not n.startswith(m + ".")} for m, deps in edges.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [])


def test_the_worker_and_the_analytics_load_neither_mlflow_nor_streamlit():
    code = ("import sys, staging.replay.worker, staging.evidence, staging.analytics.drift; "
            "print(sorted(m for m in ('mlflow', 'streamlit', 'docker') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_module_says_what_it_is_for():
    for path in [*STAGING, *PAGES]:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"


MARKDOWN_RENDERERS = {"markdown", "write", "info", "warning", "error", "success", "caption", "title", "header",
                      "subheader", "toast", "expander", "checkbox", "button", "radio", "toggle", "text_input",
                      "selectbox", "metric", "tabs", "popover", "download_button", "file_uploader", "number_input",
                      "slider", "multiselect", "text_area", "select_slider", "form_submit_button", "date_input",
                      "status", "spinner", "latex"}


# Functions whose text parameters take only literals (checked at every call below): their own
# Markdown (a code span in a page's caption) is the code's, and is rendered as such.
CODE_TEXT_FUNCTIONS = {"page_header"}


def _fixed_text(node: ast.AST) -> bool:
    """Text that holds nothing from outside the code: a literal, an entry of a constant table
    (HEADLINES[...]), or text made inert by `escaped`."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(value, ast.Constant) for value in node.values)
    if isinstance(node, ast.BinOp):
        return _fixed_text(node.left) and _fixed_text(node.right)
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Name) and node.value.id.isupper()
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "replace" and isinstance(node.func, ast.Attribute):
            return _fixed_text(node.func.value) and all(isinstance(a, ast.Constant) for a in node.args)
        return name == "escaped"
    return False


def _code_text_parameters(tree: ast.AST) -> set[int]:
    """Line numbers inside the functions of CODE_TEXT_FUNCTIONS."""
    return {line for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in CODE_TEXT_FUNCTIONS
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)}


def _called_attributes(func: ast.expr) -> list[tuple[str, str | None]]:
    """(attribute, the name it is read from) of every function a call may call: `st.error(...)`,
    but also `(st.error if c else st.success)(...)`, `(a or b)(...)` and `[st.x, st.y][i](...)`."""
    if isinstance(func, ast.Attribute):
        return [(func.attr, func.value.id if isinstance(func.value, ast.Name) else None)]
    if isinstance(func, ast.IfExp):
        return _called_attributes(func.body) + _called_attributes(func.orelse)
    if isinstance(func, ast.BoolOp):
        return [pair for value in func.values for pair in _called_attributes(value)]
    if isinstance(func, ast.Subscript):
        return _called_attributes(func.value)
    if isinstance(func, (ast.List, ast.Tuple)):
        return [pair for element in func.elts for pair in _called_attributes(element)]
    return []


def test_the_markdown_rule_sees_every_call_form():
    tree = ast.parse("(st.error if bad else st.success)(text)\n(st.info or st.warning)(text)\n[st.error][0](text)")
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert {name for call in calls for name, _ in _called_attributes(call.func)} == {"error", "success", "info",
                                                                                    "warning"}


def test_text_from_outside_the_code_is_never_rendered_as_markdown():
    """Every Streamlit element that renders Markdown (messages, captions, labels) gets a literal
    or `escaped(...)`: reviewer names, reasons, model, feature and file names, error messages and
    values are shown as typed, never interpreted (the browser test plants hostile ones)."""
    found = []
    for path in [*sorted((ROOT / "staging" / "ui").glob("*.py")), *sorted((ROOT / "app_pages").glob("*.py")),
                 ROOT / "streamlit_app.py"]:
        tree = ast.parse(path.read_text())
        exempt = _code_text_parameters(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            for name, owner in _called_attributes(node.func):  # st.x(...), (st.x if c else st.y)(...), …
                if name in CODE_TEXT_FUNCTIONS and not all(_fixed_text(arg) for arg in node.args):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} takes literals only")
                if (name in MARKDOWN_RENDERERS and not _fixed_text(node.args[0]) and node.lineno not in exempt
                        and owner not in ("log", "logging")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:90]}")
    assert not found, "Markdown elements given text that is not escaped:\n" + "\n".join(found)


def _code_map() -> dict[str, tuple[int, set[str], set[str]]]:
    """ARCHITECTURE.md's code map: unit -> (floor, the units it may import, libraries it must not)."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    table = text[text.index("## Code map"):text.index("## Invariants")]
    units = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        name = cells[1].strip("`").rstrip("/")
        may = set(re.findall(r"`(\w+)`", cells[3]))
        never = {w.strip() for w in cells[4].split(",") if w.strip() not in ("", "—")}
        units[name] = (int(cells[0]), may, never)
    return units


def _unit(path: Path) -> str:
    parts = path.relative_to(ROOT / "staging").with_suffix("").parts
    return parts[0]


def test_the_code_map_names_every_unit_of_the_package():
    units = {_unit(p) for p in STAGING} - {"__init__"}
    assert units == set(_code_map()), "ARCHITECTURE.md's code map and the folders of staging/ differ"


def _violations(label: str, source: str, names: set[str], code_map) -> list[str]:
    """Each import of `names` from unit `source` that climbs a floor, crosses into a unit its row
    does not list, or loads a library its row forbids."""
    floor, may, never = code_map[source]
    wrong = []
    for name in names:
        parts = name.split(".")
        if parts[0] != "staging" and parts[0] in never:
            wrong.append(f"{label} imports {parts[0]}, which its row forbids")
        if parts[0] != "staging" or len(parts) < 2 or parts[1] == source or parts[1] not in code_map:
            continue
        target = parts[1]
        if code_map[target][0] >= floor:
            wrong.append(f"{label} imports {target} (floor {code_map[target][0]}) from floor {floor}")
        elif target not in may:
            wrong.append(f"{label} imports {target}, which its row does not list")
    return wrong


def test_no_import_climbs_a_floor_or_crosses_into_a_unit_the_map_does_not_list():
    """The floors are a rule: each import between units goes down a floor, to a unit the row names."""
    code_map = _code_map()
    wrong = [v for path in STAGING if _unit(path) != "__init__"
             for v in _violations(str(path.relative_to(ROOT)), _unit(path), _imports(path), code_map)]
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_floors_rule_fails_an_upward_import_a_crossing_and_a_forbidden_library():
    code_map = _code_map()
    quality = ROOT / "staging" / "analytics" / "quality.py"
    assert not _violations("quality", "analytics", _imports(quality), code_map)
    assert _violations("quality", "analytics", _imports(quality) | {"staging.sandbox"}, code_map) == [
        f"quality imports sandbox (floor {code_map['sandbox'][0]}) from floor {code_map['analytics'][0]}"]
    assert _violations("x", "gate", {"staging.traffic.selection"}, code_map) == [
        "x imports traffic, which its row does not list"]
    assert _violations("x", "evidence", {"mlflow.pyfunc"}, code_map) == ["x imports mlflow, which its row forbids"]


def test_importing_the_run_record_loads_no_statistics():
    """`runs/` is the record, not the analysis: importing it loads neither scipy nor the analytics."""
    code = "import sys, staging.runs; print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy' or " \
           "m.startswith('staging.analytics')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_entry_names_the_pages_ui_pages_names_and_declares_them_before_the_sandbox_loads():
    """streamlit_app.py names each page file as a literal (so the navigation exists before the
    heavy import: a deep link never meets a blank page); they are exactly `staging.ui.PAGES`."""
    from staging.ui import PAGES as UI_PAGES

    source = (ROOT / "streamlit_app.py").read_text()
    named = re.findall(r'st\.Page\("([^"]+)"', source)
    assert sorted(named) == sorted(UI_PAGES.values())
    assert source.index("st.navigation(") < source.index("from staging import ui")
