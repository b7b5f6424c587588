"""A plain view of a 2030.5 XML resource: nested dicts, lists and strings, for matching and saving."""

from __future__ import annotations

from typing import Any

from lxml import etree


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def element_view(element: etree._Element) -> Any:
    """Turn an element into dicts (children and attributes by local name), lists (repeats) and text."""
    children = [c for c in element if isinstance(c.tag, str)]
    attributes = {_local(k): v for k, v in element.attrib.items() if not k.startswith("{http://www.w3.org")}
    if not children and not attributes:
        return (element.text or "").strip()
    view: dict[str, Any] = dict(attributes)
    for child in children:
        name = _local(child.tag)
        value = element_view(child)
        if name in view and name not in attributes:
            existing = view[name]
            if isinstance(existing, _Repeated):
                existing.append(value)
            else:
                view[name] = _Repeated([existing, value])
        else:
            view[name] = value
    if not children and element.text and element.text.strip():
        view["_text"] = element.text.strip()
    return {k: list(v) if isinstance(v, _Repeated) else v for k, v in view.items()}


class _Repeated(list):
    """Marks a list built from repeated child elements while the view is assembled."""


def resource_view(root: etree._Element) -> dict[str, Any]:
    """The view of a resource's root element; a leaf root gives {'_text': text}."""
    view = element_view(root)
    return view if isinstance(view, dict) else {"_text": view}
