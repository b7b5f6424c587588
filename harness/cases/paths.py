"""Paths into a resource view: `EndDeviceListLink.href`, `EndDevice[0].href`, `EndDevice[lFDI=AB12].href`,
`DERControl[interval.start=1764470000].href` (a selector's key may be a dotted path into the item), and
`EndDevice[*].href` (the href of every item, in list order)."""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)?(?P<selectors>(\[[^\]]*\])*)$")
_SELECTOR = re.compile(r"\[([^\]]*)\]")
_MISSING = object()


class PathError(ValueError):
    """A path that is malformed or does not lead to a value."""


def split_path(path: str) -> list[str]:
    """Split a dotted path, keeping dots inside [...] selectors."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if any(not p for p in parts) or depth != 0:
        raise PathError(f"expected a path like 'EndDevice[0].href', saw {path!r}")
    return parts


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _select(value: Any, selector: str, path: str) -> Any:
    if re.fullmatch(r"-?\d+", selector.strip()):
        items = _as_list(value)
        index = int(selector)
        return items[index] if -len(items) <= index < len(items) else _MISSING
    key, sep, wanted = selector.partition("=")
    if not sep:
        raise PathError(f"expected [index] or [key=value] in {path!r}, saw [{selector}]")
    for item in _as_list(value):
        if isinstance(item, dict) and str(_field(item, key.strip())).lower() == wanted.strip().lower():
            return item
    return _MISSING


def _field(item: dict[str, Any], key: str) -> Any:
    """The value at a dotted key inside an item (`interval.start`), or "" when absent."""
    value: Any = item
    for part in key.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part, "")
    return value


def lookup(data: Any, path: str, *, skip_absent: bool = False) -> Any:
    """Follow path through data; raise PathError naming the first part that is absent.

    A `[*]` selector projects the rest of the path over every item: `EndDevice[*].href` is the list of the
    items' hrefs, in list order (an empty list when there is no item). With skip_absent (a save whose path ends
    in `?`), an item the rest of the path does not lead through is left out of that list instead of failing:
    `FunctionSetAssignments[*].DERProgramListLink.href?` lists the DERProgramLists of the FSAs that link one.
    """
    return _lookup(data, split_path(path), path, skip_absent)


def _lookup(data: Any, parts: list[str], path: str, skip_absent: bool = False) -> Any:
    value = data
    walked: list[str] = []
    for position, part in enumerate(parts):
        match = _SEGMENT.match(part)
        if not match:
            raise PathError(f"expected a path like 'EndDevice[0].href', saw {path!r}")
        name = match.group("name")
        if name:
            if not isinstance(value, dict) or name not in value:
                where = ".".join(walked) or "the resource"
                raise PathError(f"{'.'.join([*walked, name])} is absent (no {name!r} in {where})")
            value = value[name]
        selectors = _SELECTOR.findall(match.group("selectors") or "")
        for number, selector in enumerate(selectors):
            if selector.strip() == "*":
                if number != len(selectors) - 1:
                    raise PathError(f"expected [*] as the last selector of a part, saw {part!r} in {path!r}")
                items = [] if value is None else _as_list(value)
                rest = parts[position + 1 :]
                if not rest:
                    return items
                found = []
                for item in items:
                    try:
                        found.append(_lookup(item, rest, path, skip_absent))
                    except PathError:
                        if not skip_absent:
                            raise
                return found
            value = _select(value, selector, path)
            if value is _MISSING:
                raise PathError(f"{'.'.join([*walked, part])}: no item matches [{selector}]")
        walked.append(part)
    return value
