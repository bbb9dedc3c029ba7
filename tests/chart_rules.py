"""The rules every chart keeps, read from its Vega-Lite spec (shared by the chart-spec tests and
the model zoo's): no legend lists a series its data does not hold, and no axis title is longer
than its axis can show unless the axis lets it run on (titleLimit 0)."""

from __future__ import annotations

from typing import Any

CHAR_PX = 6.5  # Vega's default axis title font, about this wide a character


def _values(spec: dict, data: dict | None) -> list[dict]:
    name = (data or {}).get("name")
    return spec.get("datasets", {}).get(name, (data or {}).get("values", [])) if name else (data or {}).get("values", [])


def _walk(node: Any, root: dict, data: dict | None, width: Any, height: Any, problems: list[str], where: str) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, root, data, width, height, problems, where)
        return
    if not isinstance(node, dict):
        return
    data = node.get("data", data)
    width, height = node.get("width", width), node.get("height", height)
    encoding = node.get("encoding") or {}
    color = encoding.get("color") or {}
    domain = (color.get("scale") or {}).get("domain")
    field = color.get("field")
    rows = _values(root, data)
    if domain and field and rows and all(field in row for row in rows):
        present = {str(row[field]) for row in rows}
        missing = [value for value in domain if str(value) not in present]
        if missing and field in ("model", "series"):
            problems.append(f"{where}: the legend lists {missing}, which the data does not hold")
    for channel, length in (("x", width), ("y", height)):
        spec = encoding.get(channel) or {}
        title, axis = spec.get("title"), spec.get("axis", {})
        if isinstance(title, str) and isinstance(length, (int, float)) and axis is not None:  # None: no axis drawn
            fits = len(title) * CHAR_PX <= length or (isinstance(axis, dict) and axis.get("titleLimit") == 0)
            if not fits:
                problems.append(f"{where}: the {channel} title {title!r} is cut at {length} px")
    for key in ("layer", "hconcat", "vconcat", "concat"):
        _walk(node.get(key), root, data, width, height, problems, where)
    if "spec" in node:
        _walk(node["spec"], root, data, width, height, problems, where)


def problems_of(chart, where: str) -> list[str]:
    spec = chart.to_dict()
    found: list[str] = []
    _walk(spec, spec, spec.get("data"), spec.get("width"), spec.get("height"), found, where)
    return found
