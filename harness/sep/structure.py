"""What an XML Schema says about 2030.5 resources: types, their children, attributes and derivations.

:class:`SchemaStructure` reads an XSD document with lxml (no ``xmlschema`` import, so it is cheap to
build) and answers the questions other code asks of IEEE 2030.5-2018's resource model: the type of a
global element, the children of a type in schema order with their occurrence limits (inherited ones
included), its attributes, whether it accepts foreign elements or attributes, and which types may stand
in for it through ``xsi:type``. It works on the bundled schema and on the official ``sep.xsd`` alike
(both use named complex types, complex or simple content extended or restricted, sequences of local
elements, attributes, ``xs:any`` and ``xs:anyAttribute``), and follows local ``xs:include`` and
``xs:import`` files.

Names: types and elements of the schema's target namespace are given by local name (``"Time"``,
``"SFDIType"``); XML Schema built-ins as ``"xs:string"``; anything in another namespace in Clark
notation (``"{urn:example}Thing"``).

Get the bundled schema's structure with ``SchemaSet.bundled().structure()`` (built once, on demand).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

__all__ = [
    "AttributeInfo",
    "ChildInfo",
    "SchemaStructure",
    "StructureError",
    "TypeInfo",
    "WildcardInfo",
]

XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = "{" + XS_NS + "}"
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class StructureError(ValueError):
    """The document is not an XML Schema this module can read (the message says what was seen)."""


@dataclass(frozen=True)
class ChildInfo:
    """A child element a type allows: its name, type and occurrence limits (``max_occurs`` None = unbounded)."""

    name: str
    type: str
    min_occurs: int
    max_occurs: int | None
    default: str | None = None  # the element's default value, if the schema gives one


@dataclass(frozen=True)
class AttributeInfo:
    """An attribute a type allows: name, simple type, whether it is required, and its default (a string)."""

    name: str
    type: str
    required: bool
    default: str | None


@dataclass(frozen=True)
class WildcardInfo:
    """An ``xs:any`` in a type's content: namespace constraint, occurrence limits, processContents."""

    namespace: str  # e.g. "##other", "##targetNamespace", "##any"
    min_occurs: int
    max_occurs: int | None
    process_contents: str  # "strict", "lax" or "skip"


@dataclass(frozen=True, eq=False)
class TypeInfo:
    """One named type, with what it inherits folded in.

    ``children`` and ``attributes`` are in schema order, the base type's first (so the order of
    ``children`` is the order a document must follow). ``simple`` is true for a simple type and for a
    complex type with simple content (its text is a value, e.g. ``SFDIType``). ``facets`` are the
    type's own restriction facets (``{"maxLength": "20"}``), not its base's.
    """

    name: str
    base: str | None
    simple: bool
    children: dict[str, ChildInfo]
    attributes: dict[str, AttributeInfo]
    open_attributes: bool  # xs:anyAttribute: attributes the schema does not declare are allowed
    open_content: bool  # xs:any: elements the schema does not declare are allowed somewhere
    derivation: str | None = None  # "extension" or "restriction" of base, None for a type without base
    facets: dict[str, str] = field(default_factory=dict)
    wildcards: tuple[WildcardInfo, ...] = ()


@dataclass
class _Raw:
    """A named type as declared, before inheritance is folded in."""

    name: str
    node: etree._Element  # xs:simpleType or xs:complexType
    target_ns: str | None


class SchemaStructure:
    """Read-only facts of an XSD's named types and global elements (see the module docstring).

    Build it from a parsed ``xs:schema`` element (``location`` lets local includes resolve), or with
    :meth:`from_bytes` / :meth:`from_path`. Raises :class:`StructureError` when the root is not
    ``xs:schema``. Answers are computed on first request and then cached.
    """

    def __init__(self, root: etree._Element, location: pathlib.Path | None = None) -> None:
        if root.tag != _XS + "schema":
            raise StructureError(f"expected an xs:schema root element, saw {root.tag}")
        self.target_namespace: str | None = root.get("targetNamespace")
        self._types: dict[str, _Raw] = {}
        self._elements: dict[str, tuple[etree._Element, str | None]] = {}
        self._groups: dict[str, etree._Element] = {}
        self._attribute_groups: dict[str, etree._Element] = {}
        self._global_attributes: dict[str, etree._Element] = {}
        self._read(root, location, {str(location.resolve())} if location is not None else set())
        self._info: dict[str, TypeInfo | None] = {}
        self._derived: dict[str, set[str]] | None = None

    @classmethod
    def from_bytes(cls, data: bytes, location: pathlib.Path | None = None) -> SchemaStructure:
        """Parse XSD bytes (no network, no entity expansion); ``location`` is where includes resolve from."""
        try:
            root = etree.fromstring(data, _parser(), base_url=str(location) if location is not None else None)
        except etree.XMLSyntaxError as exc:
            raise StructureError(f"schema is not well-formed XML: {exc}") from exc
        return cls(root, location)

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> SchemaStructure:
        """Read an XSD file; raises OSError when it cannot be read, StructureError when it is not a schema."""
        p = pathlib.Path(path)
        return cls.from_bytes(p.read_bytes(), p.resolve())

    # -- the public questions ----------------------------------------------------------------------

    def element_names(self) -> frozenset[str]:
        """Names of the global elements (the documents a schema accepts as a root)."""
        return frozenset(self._elements)

    def type_names(self) -> frozenset[str]:
        """Names of the named simple and complex types the schema declares (no xs: built-ins)."""
        return frozenset(self._types)

    def global_type(self, element_name: str) -> str | None:
        """Type of a global element, or None when there is no such element.

        For an element whose type is anonymous and derives from a named type (every 2030.5-2018
        global element: the named type plus the ``schemaVer`` attribute), the named type; see
        :meth:`root_attributes` for the attributes the anonymous type adds.
        """
        entry = self._elements.get(element_name)
        if entry is None:
            return None
        node, target_ns = entry
        if node.get("type"):
            return self._qname(node, node.get("type"), target_ns)
        anonymous = node.find(_XS + "complexType")
        if anonymous is None:
            anonymous = node.find(_XS + "simpleType")
        if anonymous is None:
            return "xs:anyType"
        derivation = _derivation(anonymous)
        if derivation is None:
            return None
        return self._qname(derivation, derivation.get("base"), target_ns)

    def root_attributes(self, element_name: str) -> dict[str, AttributeInfo]:
        """Attributes a global element allows: its type's and those its anonymous type adds (``schemaVer``)."""
        type_name = self.global_type(element_name)
        info = self.type_info(type_name) if type_name else None
        out = dict(info.attributes) if info is not None else {}
        node, target_ns = self._elements.get(element_name, (None, None))
        anonymous = node.find(_XS + "complexType") if node is not None else None
        if anonymous is not None:
            derivation = _derivation(anonymous)
            for attr in self._attributes_of(derivation if derivation is not None else anonymous, target_ns):
                out[attr.name] = attr
        return out

    def type_info(self, type_name: str) -> TypeInfo | None:
        """Everything about a named type (inherited children and attributes included), or None if undeclared."""
        if type_name not in self._info:
            self._info[type_name] = None  # guards a (malformed) self-derivation against endless recursion
            raw = self._types.get(type_name)
            self._info[type_name] = self._build(raw) if raw is not None else None
        return self._info[type_name]

    def child_type(self, type_name: str, child_name: str) -> str | None:
        """Type of child element ``child_name`` of ``type_name`` (inherited ones included), or None."""
        info = self.type_info(type_name)
        child = info.children.get(child_name) if info is not None else None
        return child.type if child is not None else None

    def repeatable(self, type_name: str) -> frozenset[str]:
        """Child elements of ``type_name`` that may occur more than once (list items, e.g. EndDevice)."""
        info = self.type_info(type_name)
        if info is None:
            return frozenset()
        return frozenset(c.name for c in info.children.values() if c.max_occurs is None or c.max_occurs > 1)

    def derived_types(self, type_name: str) -> frozenset[str]:
        """``type_name`` and every type of the schema that extends or restricts it, transitively.

        These are the types ``xsi:type`` may name on an element declared with ``type_name`` (no 2030.5
        type is blocked or final). For an xs: built-in the schema's types derived from it are given,
        not the other built-ins. Empty for a name that is neither declared nor an xs: type.
        """
        if type_name not in self._types and not type_name.startswith("xs:"):
            return frozenset()
        if self._derived is None:
            self._derived = {}
            for name in self._types:
                info = self.type_info(name)
                if info is not None and info.base is not None:
                    self._derived.setdefault(info.base, set()).add(name)
        out = {type_name}
        todo = [type_name]
        while todo:
            for sub in self._derived.get(todo.pop(), ()):
                if sub not in out:
                    out.add(sub)
                    todo.append(sub)
        return frozenset(out)

    def simple_content(self, type_name: str) -> bool:
        """Whether type_name is a complex type with simple content (a value type such as ``SFDIType``), as
        opposed to a simple type (``UInt40``) or a type with element content."""
        raw = self._types.get(type_name)
        info = self.type_info(type_name)
        return raw is not None and info is not None and info.simple and raw.node.tag == _XS + "complexType"

    def builtin_base(self, type_name: str) -> str | None:
        """The xs: built-in type at the root of ``type_name``'s simple derivation (``"SFDIType"`` ->
        ``"xs:unsignedLong"``), or None for a type with element content or an unknown name."""
        seen: set[str] = set()
        name: str | None = type_name
        while name is not None and not name.startswith("xs:") and name not in seen:
            seen.add(name)
            info = self.type_info(name)
            if info is None or not info.simple:
                return None
            name = info.base
        return name

    def __repr__(self) -> str:
        return f"SchemaStructure({len(self._types)} types, {len(self._elements)} global elements)"

    # -- reading the documents ---------------------------------------------------------------------

    def _read(self, root: etree._Element, location: pathlib.Path | None, seen: set[str]) -> None:
        """Index the top-level declarations of one schema document, then of its local includes/imports."""
        target_ns = root.get("targetNamespace")
        for node in root:
            if not isinstance(node.tag, str):
                continue
            name = node.get("name")
            key = self._declared_name(name, target_ns) if name else None
            if node.tag in (_XS + "complexType", _XS + "simpleType") and key:
                self._types[key] = _Raw(key, node, target_ns)
            elif node.tag == _XS + "element" and key:
                self._elements[key] = (node, target_ns)
            elif node.tag == _XS + "group" and key:
                self._groups[key] = node
            elif node.tag == _XS + "attributeGroup" and key:
                self._attribute_groups[key] = node
            elif node.tag == _XS + "attribute" and key:
                self._global_attributes[key] = node
            elif node.tag in (_XS + "include", _XS + "import", _XS + "redefine") and location is not None:
                self._follow(node, location, seen)

    def _follow(self, node: etree._Element, location: pathlib.Path, seen: set[str]) -> None:
        """Read a local schemaLocation once; remote ones are never fetched."""
        href = node.get("schemaLocation")
        if not href or _REMOTE.match(href) and not href.startswith("file:"):
            return
        target = (location.parent / href.removeprefix("file://")).resolve()
        if str(target) in seen or not target.is_file():
            return
        seen.add(str(target))
        try:
            sub = etree.parse(str(target), _parser()).getroot()
        except (etree.XMLSyntaxError, OSError):
            return  # the validator reports an unreadable include; the structure just lacks its names
        if sub.tag == _XS + "schema":
            self._read(sub, target, seen)

    def _declared_name(self, local: str, target_ns: str | None) -> str:
        """How a top-level declaration of a document with ``target_ns`` is named here."""
        if target_ns == self.target_namespace or target_ns is None:
            return local
        return f"{{{target_ns}}}{local}"

    def _qname(self, node: etree._Element, value: str | None, target_ns: str | None) -> str:
        """Resolve a QName attribute value (``type``, ``base``, ``ref``) written in ``node``'s scope."""
        if not value:
            return "xs:anyType"
        prefix, _, local = value.rpartition(":")
        namespace = node.nsmap.get(prefix or None)
        if namespace == XS_NS:
            return f"xs:{local}"
        if namespace is None and not prefix and target_ns is None:
            return local  # a no-namespace schema: unprefixed names are its own
        if namespace == self.target_namespace or (namespace is None and not prefix):
            return local
        return f"{{{namespace}}}{local}"

    # -- building a type's facts -------------------------------------------------------------------

    def _build(self, raw: _Raw) -> TypeInfo:
        node, target_ns = raw.node, raw.target_ns
        if node.tag == _XS + "simpleType":
            restriction = node.find(_XS + "restriction")
            base = self._qname(restriction, restriction.get("base"), target_ns) if restriction is not None else None
            facets = _facets(restriction) if restriction is not None else {}
            kind = "restriction" if restriction is not None else None
            return TypeInfo(raw.name, base, True, {}, {}, False, False, kind, facets)
        derivation = _derivation(node)
        base = self._qname(derivation, derivation.get("base"), target_ns) if derivation is not None else None
        kind = _localname(derivation.tag) if derivation is not None else None
        own = derivation if derivation is not None else node
        base_info = self.type_info(base) if base is not None and not base.startswith("xs:") else None
        children: dict[str, ChildInfo] = {}
        wildcards: list[WildcardInfo] = []
        attributes: dict[str, AttributeInfo] = {}
        open_attributes = False
        simple_content = node.find(_XS + "simpleContent") is not None
        if base_info is not None:
            simple_content = simple_content or base_info.simple
            open_attributes = base_info.open_attributes
            attributes.update(base_info.attributes)
            if kind == "extension":
                # A restriction restates the content it keeps; an extension appends to the base's.
                children.update(base_info.children)
                wildcards.extend(base_info.wildcards)
        particles = list(self._particles(own, target_ns, 1, 1))
        if particles:
            simple_content = False
        for item in particles:
            if isinstance(item, WildcardInfo):
                wildcards.append(item)
            elif item.name in children:
                # The same name twice in one content model: one entry, occurrences added up.
                old = children[item.name]
                high = None if old.max_occurs is None or item.max_occurs is None else old.max_occurs + item.max_occurs
                children[item.name] = ChildInfo(old.name, old.type, old.min_occurs + item.min_occurs, high, old.default)
            else:
                children[item.name] = item
        for attr in self._attributes_of(own, target_ns):
            attributes[attr.name] = attr
        if self._any_attribute(own):
            open_attributes = True
        facets = _facets(derivation) if derivation is not None and simple_content else {}
        return TypeInfo(
            name=raw.name,
            base=base,
            simple=simple_content,
            children=children,
            attributes=attributes,
            open_attributes=open_attributes,
            open_content=bool(wildcards),
            derivation=kind,
            facets=facets,
            wildcards=tuple(wildcards),
        )

    def _particles(
        self, node: etree._Element, target_ns: str | None, low: int, high: int | None
    ) -> Iterator[ChildInfo | WildcardInfo]:
        """Elements and wildcards of a content model, occurrences multiplied through nested groups."""
        for item in node:
            if not isinstance(item.tag, str):
                continue
            tag = item.tag
            if tag not in (_XS + "sequence", _XS + "choice", _XS + "all", _XS + "group",
                           _XS + "element", _XS + "any"):
                continue
            item_low = int(item.get("minOccurs", "1"))
            item_high = None if item.get("maxOccurs") == "unbounded" else int(item.get("maxOccurs", "1"))
            total_low = low * item_low
            total_high = None if high is None or item_high is None else high * item_high
            if tag == _XS + "element":
                yield self._child(item, target_ns, total_low, total_high)
            elif tag == _XS + "any":
                yield WildcardInfo(item.get("namespace", "##any"), total_low, total_high,
                                   item.get("processContents", "strict"))
            elif tag == _XS + "group":
                group = self._groups.get(self._qname(item, item.get("ref"), target_ns)) if item.get("ref") else item
                if group is not None:
                    yield from self._particles(group, target_ns, total_low, total_high)
            else:
                # In a choice of several branches each branch may be absent.
                branches = [c for c in item if isinstance(c.tag, str) and c.tag != _XS + "annotation"]
                inner_low = 0 if tag == _XS + "choice" and len(branches) > 1 else total_low
                yield from self._particles(item, target_ns, inner_low, total_high)

    def _child(self, item: etree._Element, target_ns: str | None, low: int, high: int | None) -> ChildInfo:
        """A local element declaration, or a reference to a global one."""
        if item.get("ref"):
            ref = self._qname(item, item.get("ref"), target_ns)
            local = ref.rpartition("}")[2]
            return ChildInfo(local, self.global_type(ref) or "xs:anyType", low, high,
                             self._elements[ref][0].get("default") if ref in self._elements else None)
        type_name = self._qname(item, item.get("type"), target_ns) if item.get("type") else None
        if type_name is None:
            anonymous = item.find(_XS + "complexType")
            if anonymous is None:
                anonymous = item.find(_XS + "simpleType")
            derivation = _derivation(anonymous) if anonymous is not None else None
            type_name = (self._qname(derivation, derivation.get("base"), target_ns)
                         if derivation is not None else "xs:anyType")
        return ChildInfo(str(item.get("name")), type_name, low, high, item.get("default"))

    def _attributes_of(self, node: etree._Element, target_ns: str | None) -> Iterator[AttributeInfo]:
        """Attribute declarations directly in ``node`` and in the attribute groups it references."""
        for item in node:
            if item.tag == _XS + "attribute":
                if item.get("use") == "prohibited":
                    continue
                decl = item
                name = item.get("name")
                if item.get("ref"):
                    ref = self._qname(item, item.get("ref"), target_ns)
                    decl = self._global_attributes.get(ref, item)
                    name = ref
                type_name = self._qname(decl, decl.get("type"), target_ns) if decl.get("type") else "xs:anySimpleType"
                yield AttributeInfo(str(name), type_name, item.get("use") == "required",
                                    item.get("default", decl.get("default")))
            elif item.tag == _XS + "attributeGroup" and item.get("ref"):
                group = self._attribute_groups.get(self._qname(item, item.get("ref"), target_ns))
                if group is not None:
                    yield from self._attributes_of(group, target_ns)

    def _any_attribute(self, node: etree._Element) -> bool:
        """Whether ``node`` (or an attribute group it references) has xs:anyAttribute."""
        for item in node:
            if item.tag == _XS + "anyAttribute":
                return True
            if item.tag == _XS + "attributeGroup" and item.get("ref"):
                group = self._attribute_groups.get(self._qname(item, item.get("ref"), self.target_namespace))
                if group is not None and self._any_attribute(group):
                    return True
        return False


def _parser() -> etree.XMLParser:
    """A parser for schema documents that never touches the network or expands entities."""
    return etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False)


def _localname(tag: str) -> str:
    return tag.rpartition("}")[2]


def _derivation(node: etree._Element) -> etree._Element | None:
    """The xs:extension or xs:restriction of a complex type's complex or simple content, if any."""
    for content in (_XS + "complexContent", _XS + "simpleContent"):
        holder = node.find(content)
        if holder is not None:
            for tag in (_XS + "extension", _XS + "restriction"):
                found = holder.find(tag)
                if found is not None:
                    return found
    restriction = node.find(_XS + "restriction")  # an anonymous simple type
    return restriction


def _facets(restriction: etree._Element) -> dict[str, str]:
    """Facets of an xs:restriction by facet name; repeated ones (pattern, enumeration) joined by '|'."""
    out: dict[str, str] = {}
    for item in restriction:
        if not isinstance(item.tag, str) or item.tag in (_XS + "annotation", _XS + "attribute",
                                                         _XS + "anyAttribute", _XS + "attributeGroup"):
            continue
        name = _localname(item.tag)
        if name in ("simpleType", "sequence", "choice", "all", "group"):
            continue
        value = str(item.get("value"))
        out[name] = f"{out[name]}|{value}" if name in out else value
    return out
