"""2030.5 XML from the plain data a served tree is written in: mappings of element names, in document order.

A key that 2030.5 defines as an XML attribute (href, all, results, pollRate, subscribable, replyTo,
responseRequired, schemaVer) becomes one; every other key is a child element in the order written (the
author writes them in the schema's order, and the tree is validated when it loads). A list value repeats
the element; a mapping nests; a scalar is the element's text (booleans as true/false).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from harness.sep import NS

# The attributes of the 2030.5-2018 resources a test server serves (sep.xsd attribute declarations).
ATTRIBUTES = frozenset({"href", "all", "results", "pollRate", "subscribable", "replyTo", "responseRequired",
                        "schemaVer", "disabled", "bidirectional"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: etree._Element, content: Any) -> None:
    if not isinstance(content, Mapping):
        if content is not None:
            element.text = _text(content)
        return
    for name, value in content.items():
        if name in ATTRIBUTES:
            if value is not None:
                element.set(name, _text(value))
            continue
        for item in value if isinstance(value, list) else [value]:
            _fill(etree.SubElement(element, f"{{{NS}}}{name}"), item)


def build(root_name: str, content: Mapping[str, Any] | Any) -> etree._Element:
    """The element root_name (2030.5 namespace) holding content (attributes first, then children in order)."""
    root = etree.Element(f"{{{NS}}}{root_name}", nsmap={None: NS})
    _fill(root, content)
    return root


def to_bytes(root: etree._Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
