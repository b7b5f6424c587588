"""The member table of CUPID's JSON, generated from the schema: how each element and attribute is carried.

One table per named complex type, built on first use from :class:`harness.sep.structure.SchemaStructure`
(the bundled schema, or the one given with --schema), so no 2030.5 type has hand-written code. For each
child element and attribute in schema order: the JSON member name (xjc's field name), whether the XML
node is an attribute, whether it repeats (a JSON array), and its *shape*:

* ``object``: a complex type with element content, a nested JSON object;
* ``time``: ``TimeType``, written as a bare integer of seconds (CUPID's one custom Gson adapter);
* ``wrapped``: any other complex type with simple content (``SFDIType``, ``mRIDType``, ``UomType``...):
  ``{"value": <scalar>}``;
* a scalar kind for simple types: ``bytes`` (hexBinary: an array of byte values), ``int``, ``bool``,
  ``str``;
* ``slot``: the 2030.5-2018 revision slots (``*_r2_3``) and wildcard content, which the xjc classes CUPID
  generated from sep.xsd 2.1.0 do not carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from harness.codec.xjc import field_name
from harness.sep.structure import SchemaStructure

OBJECT = "object"
TIME = "time"
WRAPPED = "wrapped"
BYTES = "bytes"
INT = "int"
BOOL = "bool"
STR = "str"
SLOT = "slot"

_INTEGER_BASES = frozenset({
    "xs:byte", "xs:short", "xs:int", "xs:long", "xs:integer", "xs:unsignedByte", "xs:unsignedShort",
    "xs:unsignedInt", "xs:unsignedLong", "xs:nonNegativeInteger", "xs:positiveInteger", "xs:negativeInteger",
    "xs:nonPositiveInteger",
})
TIME_TYPE = "TimeType"


@dataclass(frozen=True)
class Member:
    """One JSON member of a type: ``json`` name, the XML ``xml`` name, its XSD ``type``, ``shape`` (above),
    ``scalar`` (the kind of the value inside a ``wrapped`` or a scalar shape), ``attribute`` and ``repeated``."""

    json: str
    xml: str
    type: str
    shape: str
    scalar: str | None
    attribute: bool
    repeated: bool


def scalar_kind(structure: SchemaStructure, type_name: str) -> str:
    """``bytes``, ``int``, ``bool`` or ``str`` for a simple type or a value type's content."""
    base = type_name if type_name.startswith("xs:") else structure.builtin_base(type_name)
    if base == "xs:hexBinary":
        return BYTES
    if base in _INTEGER_BASES:
        return INT
    if base == "xs:boolean":
        return BOOL
    return STR


def shape_of(structure: SchemaStructure, type_name: str) -> tuple[str, str | None]:
    """The (shape, scalar kind) a value of type_name takes in CUPID's JSON."""
    if type_name == TIME_TYPE:
        return TIME, INT
    if type_name.startswith("xs:"):
        return scalar_kind(structure, type_name), None
    info = structure.type_info(type_name)
    if info is None:
        return STR, None
    if not info.simple:
        return OBJECT, None
    if structure.simple_content(type_name):
        return WRAPPED, scalar_kind(structure, type_name)
    return scalar_kind(structure, type_name), None


class MemberTable:
    """The members of every type of one schema, built per type on first use."""

    def __init__(self, structure: SchemaStructure) -> None:
        self.structure = structure
        self._members: dict[tuple[str, bool], tuple[Member, ...]] = {}

    def members(self, type_name: str, root: str | None = None) -> tuple[Member, ...]:
        """Members of type_name in schema order (attributes first, as Gson reads them in any order);
        root names a global element whose extra attributes (``schemaVer``) are added."""
        key = (type_name if root is None else f"{root}#root", root is not None)
        if key not in self._members:
            self._members[key] = self._build(type_name, root)
        return self._members[key]

    def gson_order(self, type_name: str, root: str | None = None) -> tuple[Member, ...]:
        """Members in the order Gson writes them: the most-derived class's fields first (its elements, then
        its attributes), each base class after it, ``Resource``'s ``href`` last."""
        members = self.members(type_name, root)
        chain: list[str] = []
        name: str | None = type_name
        while name is not None and not name.startswith("xs:") and name not in chain:
            chain.append(name)
            info = self.structure.type_info(name)
            name = info.base if info is not None else None
        owner: dict[tuple[str, bool], int] = {}
        for depth, cls in enumerate(chain):
            info = self.structure.type_info(cls)
            if info is None:
                continue
            for child in info.children:
                owner[(child, False)] = depth
            for attr in info.attributes:
                owner[(attr, True)] = depth
        return tuple(sorted(members, key=lambda m: (owner.get((m.xml, m.attribute), -1), m.attribute)))

    def by_json(self, type_name: str, root: str | None = None) -> dict[str, Member]:
        """Members of type_name keyed by JSON name."""
        return {m.json: m for m in self.members(type_name, root)}

    def _build(self, type_name: str, root: str | None) -> tuple[Member, ...]:
        info = self.structure.type_info(type_name)
        if info is None:
            return ()
        attributes = self.structure.root_attributes(root) if root is not None else info.attributes
        out: list[Member] = []
        for attr in attributes.values():
            shape, scalar = shape_of(self.structure, attr.type)
            out.append(Member(field_name(attr.name), attr.name, attr.type, shape, scalar, True, False))
        for child in info.children.values():
            repeated = child.max_occurs is None or child.max_occurs > 1
            if child.name.endswith("_r2_3"):
                shape, scalar = SLOT, None
            else:
                shape, scalar = shape_of(self.structure, child.type)
            out.append(Member(field_name(child.name), child.name, child.type, shape, scalar, False, repeated))
        return tuple(out)


@lru_cache(maxsize=4)
def table_for(structure: SchemaStructure) -> MemberTable:
    """The (cached) member table of a schema structure."""
    return MemberTable(structure)
