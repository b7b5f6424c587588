"""Findings about a 2030.5 document: what was observed, where, of which kind and severity.

Shared by the schema stage (:mod:`harness.sep.schema`) and our own checks (:mod:`harness.sep.checks`),
which both name elements the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

SEP_NS = "urn:ieee:std:2030.5:ns"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# Kinds of finding (DESIGN.md "Findings and the rules of a verdict").
PARSE = "parse"  # the bytes are not acceptable XML: refused DOCTYPE, not UTF-8, not well-formed
SCHEMA = "schema"  # the schema stage: the bundled 2030.5 schema or the one given with --schema
CHECK = "check"  # our own checks of what the schema cannot express
# Severities: a failure fails the step; a warning is shown in the report and never fails anything.
FAILURE = "failure"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One observation about a document: what was expected and what was seen, where, of which kind and severity."""

    message: str  # human readable: what was expected, what was seen
    line: int | None  # source line in the document, when known
    path: str | None  # XPath-like path e.g. "/DeviceCapability/TimeLink"
    kind: str  # PARSE, SCHEMA or CHECK
    severity: str = FAILURE  # FAILURE or WARNING


_SEP_PREFIX = "{" + SEP_NS + "}"


def display_name(tag: Any) -> str:
    """How findings name an element: "Time" for 2030.5's, "{urn:acme:ext}foo" for any other namespace.

    A name without namespace is shown as "{}foo", so a child that lost its xmlns is not mistaken for
    the 2030.5 element of the same name.
    """
    if not isinstance(tag, str):
        return str(tag)
    if tag.startswith(_SEP_PREFIX):
        return tag[len(_SEP_PREFIX):]
    return tag if tag.startswith("{") else "{}" + tag


def element_path(el: etree._Element) -> str:
    """XPath-like path of an element, e.g. "/EndDeviceList/EndDevice[2]/sFDI".

    Steps are named as :func:`display_name` does: local names in the 2030.5 namespace, Clark notation
    otherwise ("/Time/{urn:acme:ext}foo").
    """
    parts: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        name = display_name(node.tag)
        parent = node.getparent()
        if parent is not None:
            # Index only when needed, so the common path stays short and readable.
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
