"""The layering rules of DESIGN.md, checked on the source."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGING = sorted((ROOT / "staging").rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_ui_module_imports_streamlit():
    importers = [p.relative_to(ROOT).as_posix() for p in STAGING if "streamlit" in _imports(p)]
    assert importers == ["staging/ui.py"]


def test_pages_talk_to_the_staging_package_only():
    for page in [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert not _imports(page) & {"docker", "mlflow", "requests", "httpx", "aiohttp"}, page


def test_analytics_stay_pure():
    for path in (ROOT / "staging" / "analytics").glob("*.py"):
        assert not _imports(path) & {"streamlit", "docker", "mlflow", "requests", "aiohttp"}, path


def test_every_module_says_what_it_is_for():
    for path in [*STAGING, *sorted((ROOT / "pages").glob("*.py")), ROOT / "streamlit_app.py"]:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"
