"""Building and reading IEEE 2030.5 XML elements: the small helpers every reference-server module shares."""

from __future__ import annotations

from lxml import etree

from harness.sep import NS

Q = f"{{{NS}}}"


def el(tag: str, *children: etree._Element | None, text: object = None, **attrs: object) -> etree._Element:
    """An element in the 2030.5 namespace; None children and None attributes are left out."""
    element = etree.Element(Q + tag, nsmap={None: NS})
    for key, value in attrs.items():
        if value is not None:
            element.set(key, str(value))
    if text is not None:
        element.text = str(text).lower() if isinstance(text, bool) else str(text)
    for child in children:
        if child is not None:
            element.append(child)
    return element


def optional(tag: str, value: object) -> etree._Element | None:
    """An element holding value, or None (left out by el) when value is None."""
    return None if value is None else el(tag, text=value)


def to_bytes(root: etree._Element) -> bytes:
    """Serialize a resource as UTF-8, without an XML declaration (it is optional, UTF-8 the default)."""
    return etree.tostring(root, xml_declaration=False, encoding="UTF-8")


def error(reason_code: int) -> etree._Element:
    """An Error resource (reasonCode 0 = invalid request format, 1 = invalid request values)."""
    return el("Error", el("reasonCode", text=reason_code))


def link(tag: str, href: str, all_count: int | None = None) -> etree._Element:
    """A Link or ListLink element."""
    return el(tag, href=href, all=all_count)


def child(root: etree._Element, name: str) -> etree._Element | None:
    """The first child of root called name (2030.5 namespace), if any."""
    return root.find(Q + name)


def child_text(root: etree._Element, name: str) -> str:
    """Text of the first child called name, stripped, or an empty string."""
    found = child(root, name)
    return (found.text or "").strip() if found is not None else ""


def children(root: etree._Element, name: str) -> list[etree._Element]:
    """Every child of root called name (2030.5 namespace), in document order."""
    return root.findall(Q + name)


def local(element: etree._Element) -> str:
    """The local name of an element ("{ns}Name" -> "Name")."""
    return etree.QName(element).localname
