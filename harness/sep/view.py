"""A plain view of a 2030.5 XML resource: nested dicts, lists and strings, for matching and saving.

Whether a child is a list is the schema's call, not the document's: an element the schema lets repeat
(the EndDevice items of an EndDeviceList, the CurveData of a DERCurve) is a list even when one is
present, so `EndDevice[0].href` reads the same on a list of one as on a list of two. The shape comes
from the schema once (:func:`list_shape`); the walk itself stays a plain lxml loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass(frozen=True)
class ListShape:
    """Which children repeat: by the parent element's local name, and by type name (for xsi:type)."""

    by_element: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_type: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def repeating(self, element: etree._Element, name: str) -> frozenset[str] | None:
        """The child names that repeat in element (local name `name`); None when the schema does not say."""
        xsi = element.get(XSI_TYPE)
        if xsi:
            found = self.by_type.get(xsi.rpartition(":")[2])
            if found is not None:
                return found
        return self.by_element.get(name)


def list_shape(structure: Any) -> ListShape:
    """The ListShape of a schema, from its :class:`harness.sep.structure.SchemaStructure`.

    An element name maps to every type it is declared with (globally or as a child of some type) and takes
    the union of their repeating children: 2030.5 uses one type per element name almost everywhere.
    """
    by_type: dict[str, frozenset[str]] = {}
    types_of: dict[str, set[str]] = {}
    for type_name in structure.type_names():
        info = structure.type_info(type_name)
        if info is None:
            continue
        repeating = structure.repeatable(type_name)
        by_type[type_name] = repeating
        for child in info.children.values():
            types_of.setdefault(child.name, set()).add(child.type)
    for element in structure.element_names():
        declared = structure.global_type(element)
        if declared:
            types_of.setdefault(element, set()).add(declared)
    by_element = {name: frozenset().union(*(by_type.get(t, frozenset()) for t in types))
                  for name, types in types_of.items()}
    return ListShape({k: v for k, v in by_element.items() if v}, {k: v for k, v in by_type.items() if v})


def element_view(element: etree._Element, shape: ListShape | None = None) -> Any:
    """Turn an element into dicts (children and attributes by local name), lists (repeats) and text.

    With a shape, a child the schema lets repeat is always a list; without one, a name seen twice is.
    """
    # Runs on every response body, so it avoids QName objects and extra passes over the children.
    view: dict[str, Any] = {}
    for key, value in element.items():
        if key[0] != "{":  # namespaced attributes (xsi:type and the like) are not resource fields
            view[key] = value
    attributes = len(view)
    repeated: set[str] | None = None
    listed: frozenset[str] | None = None
    if shape is not None:
        tag = element.tag
        listed = shape.repeating(element, tag[tag.rfind("}") + 1 :] if tag.__class__ is str else "")
    has_children = False
    for child in element:
        tag = child.tag
        if tag.__class__ is not str:
            continue  # comments and processing instructions
        has_children = True
        name = tag[tag.rfind("}") + 1 :]
        value = element_view(child, shape)
        if listed is not None and name in listed:
            if name in view and isinstance(view[name], list) and not (attributes and name in element.attrib):
                view[name].append(value)
            else:
                view[name] = [value]
        elif name not in view or (attributes and name in element.attrib):  # a child hides a same-named attribute
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


def resource_view(root: etree._Element, shape: ListShape | None = None) -> dict[str, Any]:
    """The view of a resource's root element; a leaf root gives {'_text': text}."""
    view = element_view(root, shape)
    return view if isinstance(view, dict) else {"_text": view}
