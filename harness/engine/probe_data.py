"""Generated 2030.5 documents for robustness probes: schema-valid ones and one-change-invalid mutants of them.

The documents are drawn by hypothesis strategies built from the schema's own structure
(`harness.sep.structure.SchemaStructure`): a type's children in order with their occurrence limits, and each
simple type's facets (integer bounds of its XML Schema base type and minInclusive/maxInclusive, hexBinary and
string maxLength). `_r2_3` revision slots and wildcards are left out. A mutant changes exactly one thing: one
value one past its bound (an integer, a hexBinary's length, a string's length), a number that is not one, a
required element removed, or an element the type does not declare. Both kinds are drawn so that hypothesis
shrinks a failing example to the smallest document and change that still fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from harness.sep import NS
from harness.sep.structure import SchemaStructure

# Bounds of the XML Schema integer types the 2030.5 schema builds on.
_INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "xs:byte": (-(2**7), 2**7 - 1), "xs:unsignedByte": (0, 2**8 - 1),
    "xs:short": (-(2**15), 2**15 - 1), "xs:unsignedShort": (0, 2**16 - 1),
    "xs:int": (-(2**31), 2**31 - 1), "xs:unsignedInt": (0, 2**32 - 1),
    "xs:long": (-(2**63), 2**63 - 1), "xs:unsignedLong": (0, 2**64 - 1),
}
_MAX_REPEAT = 2
_MAX_DEPTH = 4


@dataclass
class Node:
    """One element of a generated document: a simple value (text) or children, in schema order."""

    name: str
    type: str
    text: str | None = None
    children: list[Node] = field(default_factory=list)

    def to_element(self, root: bool = False) -> etree._Element:
        """The element in the 2030.5 namespace (declared on the root)."""
        element = etree.Element(f"{{{NS}}}{self.name}", nsmap={None: NS} if root else None)
        if self.text is not None:
            element.text = self.text
        for child in self.children:
            element.append(child.to_element())
        return element

    def to_bytes(self) -> bytes:
        """The document, UTF-8 XML without a declaration."""
        return etree.tostring(self.to_element(root=True))

    def leaves(self, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Node]]:
        """Every simple-valued element with its position (child indices from the root)."""
        if self.text is not None:
            return [(path, self)]
        return [leaf for i, child in enumerate(self.children) for leaf in child.leaves((*path, i))]


@dataclass(frozen=True)
class Mutant:
    """A one-change-invalid document and what was changed."""

    document: Node
    change: str


class ProbeData:
    """Strategies for documents of the global elements of one schema."""

    def __init__(self, structure: SchemaStructure) -> None:
        self.structure = structure

    def facets(self, type_name: str) -> dict[str, str]:
        """The facets of a simple type and of the types it restricts (the nearest one wins)."""
        found: dict[str, str] = {}
        name: str | None = type_name
        while name:
            info = self.structure.type_info(name)
            if info is None:
                break
            for key, value in info.facets.items():
                found.setdefault(key, value)
            name = info.base
        return found

    def _simple(self, type_name: str) -> st.SearchStrategy[str]:
        base = self.structure.builtin_base(type_name) or type_name
        facets = self.facets(type_name)
        if base in _INTEGER_BOUNDS:
            low, high = self.bounds(type_name)
            return st.integers(low, high).map(str)
        if base == "xs:hexBinary":
            size = int(facets.get("maxLength", "16"))
            return st.binary(min_size=1, max_size=size).map(lambda b: b.hex().upper())
        if base == "xs:boolean":
            return st.sampled_from(["true", "false"])
        if base == "xs:string":
            size = int(facets.get("maxLength", "32"))
            return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=size)
        if base == "xs:anyURI":
            return st.just("/probe")
        return st.just("0")

    def bounds(self, type_name: str) -> tuple[int, int]:
        """The inclusive integer range of a simple type of an integer base."""
        base = self.structure.builtin_base(type_name) or type_name
        low, high = _INTEGER_BOUNDS[base]
        facets = self.facets(type_name)
        return int(facets.get("minInclusive", low)), int(facets.get("maxInclusive", high))

    def document(self, root: str, fixed: dict[str, str] | None = None,
                 include: tuple[str, ...] = ()) -> st.SearchStrategy[Node]:
        """Schema-valid documents of a global element; fixed gives top-level children a value of the case's,
        include names optional top-level children every document carries."""
        type_name = self.structure.global_type(root)
        if type_name is None:
            raise ValueError(f"no global element {root!r} in the schema")
        return self._complex(root, type_name, 0, dict(fixed or {}), frozenset(include))

    def _complex(self, name: str, type_name: str, depth: int, fixed: dict[str, str],
                 include: frozenset[str] = frozenset()) -> st.SearchStrategy[Node]:
        info = self.structure.type_info(type_name)
        if info is None or info.simple:
            return self._simple(type_name).map(lambda text: Node(name, type_name, text))
        parts: list[st.SearchStrategy[list[Node]]] = []
        for child in info.children.values():
            if child.name.endswith("_r2_3"):
                continue
            if child.name in fixed:
                parts.append(st.just([Node(child.name, child.type, fixed[child.name])]))
                continue
            child_info = self.structure.type_info(child.type)
            simple = child_info is None or child_info.simple
            if not simple and depth >= _MAX_DEPTH and child.min_occurs == 0:
                continue
            one = (self._simple(child.type).map(lambda text, c=child: Node(c.name, c.type, text)) if simple
                   else self._complex(child.name, child.type, depth + 1, {}))
            most = min(child.max_occurs if child.max_occurs is not None else _MAX_REPEAT, _MAX_REPEAT)
            least = max(child.min_occurs, 1 if child.name in include else 0)
            parts.append(st.lists(one, min_size=least, max_size=max(most, least)))
        return st.tuples(*parts).map(lambda lists: Node(name, type_name, None, [n for group in lists for n in group]))

    def mutant(self, root: str, fixed: dict[str, str] | None = None,
               include: tuple[str, ...] = ()) -> st.SearchStrategy[Mutant]:
        """One-change-invalid documents: a valid document with exactly one change the schema refuses."""
        return self.document(root, fixed, include).flatmap(lambda doc: self._mutations(doc))

    def _mutations(self, doc: Node) -> st.SearchStrategy[Mutant]:
        options: list[st.SearchStrategy[Mutant]] = []
        for path, leaf in doc.leaves():
            base = self.structure.builtin_base(leaf.type) or leaf.type
            facets = self.facets(leaf.type)
            where = "/".join(_names(doc, path))
            if base in _INTEGER_BOUNDS:
                low, high = self.bounds(leaf.type)
                options.append(st.just(_changed(doc, path, str(high + 1), f"{where} = {high + 1}, one past its "
                                                                          f"maximum {high}")))
                options.append(st.just(_changed(doc, path, str(low - 1), f"{where} = {low - 1}, one below its "
                                                                        f"minimum {low}")))
                options.append(st.just(_changed(doc, path, "x1", f"{where} = 'x1', not a number")))
            elif base == "xs:hexBinary" and "maxLength" in facets:
                size = int(facets["maxLength"]) + 1
                options.append(st.just(_changed(doc, path, "AB" * size, f"{where} of {size} bytes, one more than "
                                                                        f"its maxLength {size - 1}")))
            elif base == "xs:string" and "maxLength" in facets:
                size = int(facets["maxLength"]) + 1
                options.append(st.just(_changed(doc, path, "x" * size, f"{where} of {size} characters, one more "
                                                                       f"than its maxLength {size - 1}")))
        info = self.structure.type_info(doc.type)
        required = [c.name for c in info.children.values() if c.min_occurs > 0] if info else []
        for name in required:
            options.append(st.just(Mutant(Node(doc.name, doc.type, None, [c for c in doc.children if c.name != name]),
                                          f"required {doc.name}/{name} left out")))
        options.append(st.just(Mutant(Node(doc.name, doc.type, None, [*doc.children, Node("probeUnknown", "", "1")]),
                                      f"{doc.name}/probeUnknown, an element {doc.name} does not declare")))
        return st.one_of(options)


def _names(doc: Node, path: tuple[int, ...]) -> list[str]:
    names, node = [doc.name], doc
    for i in path:
        node = node.children[i]
        names.append(node.name)
    return names


def _changed(doc: Node, path: tuple[int, ...], text: str, change: str) -> Mutant:
    def copy(node: Node, rest: tuple[int, ...]) -> Node:
        if not rest:
            return Node(node.name, node.type, text)
        children = list(node.children)
        children[rest[0]] = copy(children[rest[0]], rest[1:])
        return Node(node.name, node.type, node.text, children)

    return Mutant(copy(doc, path), change)


def describe(value: Any) -> str:
    """A short text of a document for messages."""
    return value.to_bytes().decode() if isinstance(value, Node) else str(value)
