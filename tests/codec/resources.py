"""Hypothesis strategies for 2030.5 resources built from the bundled schema's structure (for codec tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from harness.codec.mapping import BOOL, BYTES, INT, scalar_kind
from harness.sep.findings import SEP_NS, XSI_TYPE
from harness.sep.structure import SchemaStructure

NS = "{" + SEP_NS + "}"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
Draw = Callable[[st.SearchStrategy[Any]], Any]
_TEXT = st.text(st.sampled_from("abcXYZ019 _-./:éß€<&\""), max_size=12)


def lexical(structure: SchemaStructure, type_name: str, draw: Draw) -> str:
    """A value of type_name in its canonical lexical form (what survives a round trip unchanged)."""
    kind = scalar_kind(structure, type_name)
    if kind == INT:
        return str(draw(st.one_of(st.integers(-(2**31), 2**31), st.integers(-(2**63), 2**64 - 1))))
    if kind == BYTES:
        return draw(st.binary(max_size=20)).hex().upper()
    if kind == BOOL:
        return draw(st.sampled_from(["true", "false"]))
    return draw(_TEXT)


class ResourceBuilder:
    """Builds one resource (a global element); ``lossy`` adds what CUPID's JSON cannot carry: xsi:type
    subtypes, revision slots and foreign elements, each listed in ``uncarried`` by element name."""

    MAX_DEPTH = 3

    def __init__(self, structure: SchemaStructure, draw: Draw, lossy: bool = False) -> None:
        self.structure = structure
        self.draw = draw
        self.lossy = lossy
        self.uncarried: list[str] = []

    def document(self, root_name: str) -> etree._Element:
        nsmap = {None: SEP_NS, "xsi": XSI} if self.lossy else {None: SEP_NS}
        root = etree.Element(NS + root_name, nsmap=nsmap)
        self.fill(root, str(self.structure.global_type(root_name)), 0, self.structure.root_attributes(root_name))
        return root

    def fill(self, el: etree._Element, type_name: str, depth: int, attributes: dict[str, Any] | None = None) -> None:
        info = self.structure.type_info(type_name) if not type_name.startswith("xs:") else None
        if info is None or info.simple:
            el.text = lexical(self.structure, type_name, self.draw)
            return
        for attr in (attributes if attributes is not None else info.attributes).values():
            if attr.required or self.draw(st.booleans()):
                el.set(attr.name, lexical(self.structure, attr.type, self.draw))
        for child in info.children.values():
            if child.name.endswith("_r2_3"):
                if self.lossy and depth == 0 and self.draw(st.integers(0, 3)) == 0:
                    etree.SubElement(etree.SubElement(el, NS + child.name), NS + "Extension").text = "x"
                    self.uncarried.append(child.name)
                continue
            high = child.min_occurs + 1 if child.max_occurs is None else min(child.max_occurs, child.min_occurs + 1)
            count = child.min_occurs if depth >= self.MAX_DEPTH else self.draw(st.integers(child.min_occurs, high))
            if child.max_occurs is None and count and depth < self.MAX_DEPTH and self.draw(st.booleans()):
                count += 1  # lists of two, which CUPID's corpus never shows
            for _ in range(count):
                sub = etree.SubElement(el, NS + child.name)
                sub_type = child.type
                derived = sorted(self.structure.derived_types(child.type) - {child.type})
                if self.lossy and derived and self.draw(st.integers(0, 2)) == 0:
                    sub_type = self.draw(st.sampled_from(derived))
                    sub.set(XSI_TYPE, sub_type)
                    self.uncarried.append(child.name)
                self.fill(sub, sub_type, depth + 1)
