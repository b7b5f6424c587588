"""A plain view of a 2030.5 XML resource: nested dicts, lists and strings, for matching and saving."""

from __future__ import annotations

from typing import Any

from lxml import etree


def element_view(element: etree._Element) -> Any:
    """Turn an element into dicts (children and attributes by local name), lists (repeats) and text."""
    # Runs on every response body, so it avoids QName objects and extra passes over the children.
    view: dict[str, Any] = {}
    for key, value in element.items():
        if key[0] != "{":  # namespaced attributes (xsi:type and the like) are not resource fields
            view[key] = value
    attributes = len(view)
    repeated: set[str] | None = None
    has_children = False
    for child in element:
        tag = child.tag
        if tag.__class__ is not str:
            continue  # comments and processing instructions
        has_children = True
        name = tag[tag.rfind("}") + 1 :]
        value = element_view(child)
        if name not in view or (attributes and name in element.attrib):  # a child hides a same-named attribute
            view[name] = value
        elif repeated is not None and name in repeated:
            view[name].append(value)
        else:
            view[name] = [view[name], value]
            repeated = repeated or set()
            repeated.add(name)
    if not has_children:
        text = (element.text or "").strip()
        if not view:
            return text
        if text:
            view["_text"] = text
    return view


def resource_view(root: etree._Element) -> dict[str, Any]:
    """The view of a resource's root element; a leaf root gives {'_text': text}."""
    view = element_view(root)
    return view if isinstance(view, dict) else {"_text": view}
