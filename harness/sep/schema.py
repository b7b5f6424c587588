"""XML Schema validation of IEEE 2030.5 documents, in two stages.

Stage one is a fast lxml (libxml2) gate.  Only when a document fails it do we
build readable findings with the pure-Python ``xmlschema`` package, which knows
which element was expected where; that package is slow to import and to load a
schema, so it is imported and loaded lazily, keeping ``csip-harness validate``
start-up fast.  Checks the schema language cannot express (list counts,
enumerated codes, the expected root) live in :mod:`harness.sep.checks` and are
appended as ``kind="check"`` findings.

Findings name elements as an engineer reads them: 2030.5 elements by local name, any other element
with its namespace in Clark notation (``{urn:acme:ext}foo``, ``{}foo`` for no namespace), in the
message and in the path. :meth:`SchemaSet.structure` gives the schema's type facts
(:mod:`harness.sep.structure`), built only when asked for.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import pathlib
import re
import threading
from typing import TYPE_CHECKING, Any

from lxml import etree

from harness.sep.checks import own_checks, reachable_tags
from harness.sep.findings import (
    CHECK,
    FAILURE,
    PARSE,
    SCHEMA,
    SEP_NS,
    WARNING,
    XSI_TYPE,
    Finding,
    display_name,
    element_path,
)

if TYPE_CHECKING:
    from harness.sep.structure import SchemaStructure

__all__ = [
    "CHECK",
    "FAILURE",
    "PARSE",
    "SCHEMA",
    "SEP_NS",
    "WARNING",
    "Finding",
    "display_name",
    "SchemaLoadError",
    "SchemaSet",
    "element_path",
]

XS_NS = "http://www.w3.org/2001/XMLSchema"

BUNDLED_NAME = "bundled CSIP schema"
# Generated from schema/harness2030_5.model by harness.sep.schema_build (our own text; see README "Schema").
_BUNDLED_RESOURCE = ("harness.sep", "schema/harness2030_5.xsd")

# Strips the 2030.5 namespace from validator messages: "{urn:...}TimeLink"
# reads as noise to the engineer fixing a device.  Other namespaces are kept
# because a foreign element is exactly what they need to see.
_SEP_NS_RE = re.compile(r"\{" + re.escape(SEP_NS) + r"\}")


class SchemaLoadError(ValueError):
    """A schema file is missing, unreadable, not XML, or not a valid XML Schema."""


# xmlschema sometimes puts component reprs in its reasons, e.g.
# "XsdComplexType(name='DateTimeInterval') cannot substitute ...": keep the name only.
_XSD_TYPE_REPR_RE = re.compile(r"Xsd\w*Type\(name='([^']*)'[^)]*\)")
_XSD_REPR_RE = re.compile(r"Xsd\w+\(name='([^']*)'[^)]*\)")


def _strip_ns(text: str) -> str:
    """Remove the 2030.5 namespace and validator internals from a message."""
    text = _SEP_NS_RE.sub("", text).replace("{http://www.w3.org/2001/XMLSchema-instance}", "xsi:")
    text = _XSD_TYPE_REPR_RE.sub(r"type \1", text)
    return _XSD_REPR_RE.sub(r"\1", text)


class _NoNetworkResolver(etree.Resolver):
    """Refuse any non-local URL while loading a schema and its imports."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        """Fail remote URLs; let lxml handle local ones."""
        if system_url and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", system_url) and not system_url.startswith("file:"):
            raise SchemaLoadError(f"refusing to fetch {system_url}: schemas are loaded from local files only")
        return None


def _schema_parser() -> etree.XMLParser:
    """A parser for schema documents that never touches the network or expands entities."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False)
    parser.resolvers.add(_NoNetworkResolver())
    return parser


def _global_element_names(doc: etree._Element, base: pathlib.Path | None, seen: set[str]) -> set[str]:
    """Local names of global xs:element declarations, following local includes/imports."""
    names = {str(el.get("name")) for el in doc.iterchildren(f"{{{XS_NS}}}element") if el.get("name")}
    if base is None:
        return names
    for ref in doc.iterchildren(f"{{{XS_NS}}}include", f"{{{XS_NS}}}import", f"{{{XS_NS}}}redefine"):
        loc = ref.get("schemaLocation")
        if not loc or "://" in loc:
            continue
        target = (base.parent / loc).resolve()
        if str(target) in seen or not target.is_file():
            continue
        seen.add(str(target))
        try:
            sub = etree.parse(str(target), _schema_parser()).getroot()
        except (etree.XMLSyntaxError, OSError):
            continue  # lxml already accepted the schema set; a missing name here only weakens knows()
        names |= _global_element_names(sub, target, seen)
    return names


class SchemaSet:
    """A loaded XML schema: the bundled CSIP one or a file passed with --schema."""

    _bundled: SchemaSet | None = None
    _bundled_lock = threading.Lock()

    def __init__(self, name: str, data: bytes, location: pathlib.Path | None) -> None:
        """Compile ``data`` (the xsd bytes); ``location`` lets relative includes resolve."""
        self.name = name
        self.sha256 = hashlib.sha256(data).hexdigest()
        self._data = data
        self._location = location
        where = name if location is None else str(location)
        try:
            doc = etree.fromstring(data, _schema_parser(), base_url=str(location) if location is not None else None)
        except etree.XMLSyntaxError as exc:
            raise SchemaLoadError(f"schema {where} is not well-formed XML: {exc}") from exc
        if doc.tag != f"{{{XS_NS}}}schema":
            raise SchemaLoadError(f"schema {where} is not an XML Schema: root element is {doc.tag}, not xs:schema")
        try:
            self._lxml = etree.XMLSchema(doc)
        except (etree.XMLSchemaParseError, SchemaLoadError) as exc:
            raise SchemaLoadError(f"schema {where} is not a valid XML Schema: {exc}") from exc
        # The fast gate (see _gate_schema) is built on the second validation: a one-document run
        # (csip-harness validate FILE) would spend more building it than it saves.
        self._schema_doc = doc
        self._gate: etree.XMLSchema | None = None
        self._validations = 0
        self._globals = frozenset(_global_element_names(doc, location, set()))
        self._xmlschema: Any = None  # xmlschema.XMLSchema, built on first invalid document
        self._structure: Any = None  # harness.sep.structure.SchemaStructure, built on first structure()
        self._list_shape: Any = None  # harness.sep.view.ListShape, built on first list_shape()
        self._reachable: dict[str, tuple[str, ...] | None] = {}  # root tag -> reachable_tags(), as met
        # lxml schema objects keep their error log on the instance, so a check
        # and the read of its log must not interleave across threads.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Short form for logs and test output."""
        return f"SchemaSet(name={self.name!r}, sha256={self.sha256[:12]}...)"

    @classmethod
    def bundled(cls) -> SchemaSet:
        """The CSIP schema shipped with the harness (loaded once, then cached)."""
        with cls._bundled_lock:
            if cls._bundled is None:
                package, resource = _BUNDLED_RESOURCE
                ref = importlib.resources.files(package).joinpath(resource)
                try:
                    data = ref.read_bytes()
                except OSError as exc:
                    raise SchemaLoadError(f"the bundled CSIP schema is missing from the package: {exc}") from exc
                # A real file lets xmlschema report locations; a zipped install has none.
                location = ref if isinstance(ref, pathlib.Path) else None
                cls._bundled = cls(BUNDLED_NAME, data, location)
            return cls._bundled

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> SchemaSet:
        """Load a schema file (e.g. the official sep.xsd); raise SchemaLoadError if missing or invalid."""
        p = pathlib.Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError as exc:
            raise SchemaLoadError(f"schema file not found: {p}") from exc
        except IsADirectoryError as exc:
            raise SchemaLoadError(f"schema path is a directory, not a file: {p}") from exc
        except OSError as exc:
            raise SchemaLoadError(f"cannot read schema file {p}: {exc.strerror or exc}") from exc
        return cls(str(path), data, p.resolve())

    def structure(self) -> SchemaStructure:
        """The schema's type facts (:class:`harness.sep.structure.SchemaStructure`), built on first call.

        Not on the validation path: ``csip-harness validate`` never builds it. Raises
        :class:`harness.sep.structure.StructureError` if the schema cannot be read as one (a schema
        lxml compiled always can).
        """
        with self._lock:
            if self._structure is None:
                from harness.sep.structure import SchemaStructure  # lazy: only code that asks pays for it

                self._structure = SchemaStructure.from_bytes(self._data, self._location)
            return self._structure

    def _reachable_tags(self, tag: str) -> tuple[str, ...] | None:
        """The checked tags a document of this root may hold (harness.sep.checks.reachable_tags), once per root."""
        namespace, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
        tags = reachable_tags(self.structure(), local) if namespace == SEP_NS else None
        self._reachable[tag] = tags
        return tags

    def list_shape(self) -> Any:
        """Which children repeat, by element and by type (:class:`harness.sep.view.ListShape`), built once."""
        if self._list_shape is None:
            from harness.sep.view import list_shape

            self._list_shape = list_shape(self.structure())
        return self._list_shape

    def knows(self, element_name: str) -> bool:
        """Whether the schema declares a global element with this local name."""
        return element_name in self._globals

    def is_valid(self, root: etree._Element) -> bool:
        """The schema's verdict, from lxml alone (the fast gate of :meth:`validate`)."""
        root = _as_element(root)
        with self._lock:
            gate = self._next_gate()
            return bool((gate is not None and gate.validate(root)) or self._lxml.validate(root))

    def validate(self, root: etree._Element, expected_root: str | None = None) -> list[Finding]:
        """Schema findings (readable, with line and path) followed by our own checks' findings."""
        if root.__class__ is not etree._Element:
            root = _as_element(root)
        with self._lock:
            gate = self._next_gate()
            ok = (gate is not None and gate.validate(root)) or self._lxml.validate(root)
            lxml_log = None if ok else list(self._lxml.error_log)
        # Once the structure exists (the engine builds it for its resource views), the own checks visit only
        # the elements that can have a check; `csip-harness validate` never builds it, to start fast.
        tag = root.tag
        tags = self._reachable.get(tag, _UNKNOWN) if tag.__class__ is str else None
        if tags is _UNKNOWN:
            tags = self._reachable_tags(tag) if self._structure is not None else None
        own = own_checks(root, expected_root, self._globals, tags, tag)
        if lxml_log is None:
            return own
        return self._explain(root, lxml_log) + own

    def _next_gate(self) -> etree.XMLSchema | None:
        """The fast gate for this validation, if there is one (call with the lock held)."""
        self._validations += 1
        if self._validations == 2:
            self._gate = _gate_schema(self._schema_doc)
        return self._gate

    # -- stage two -----------------------------------------------------------

    def _xmlschema_obj(self) -> Any:
        """Build (once) the xmlschema object used to explain failures."""
        with self._lock:
            if self._xmlschema is None:
                import xmlschema  # lazy: costs start-up time and is needed only for invalid documents

                source: Any = str(self._location) if self._location is not None else self._data.decode("utf-8")
                self._xmlschema = xmlschema.XMLSchema(source, allow="local", defuse="always")
            return self._xmlschema

    def _explain(self, root: etree._Element, lxml_log: list[Any]) -> list[Finding]:
        """Turn a failed validation into findings, preferring xmlschema's view."""
        findings: list[Finding] = []
        failure: Exception | None = None
        try:
            xs = self._xmlschema_obj()
            findings = _without_echoes([(err, _finding_from_xmlschema(err)) for err in xs.iter_errors(root)])
        except Exception as exc:  # any xmlschema failure must become a finding, not a crash
            failure = exc
        if failure is not None or not findings:
            # xmlschema crashed (e.g. unknown xsi:type) or disagrees with libxml2:
            # libxml2's own log still carries line numbers, so report that.
            from_lxml = [_finding_from_lxml(root, entry) for entry in lxml_log]
            if from_lxml:
                return _dedupe(from_lxml)
            if failure is not None:
                return [
                    Finding(
                        message=f"document is not valid against {self.name}; the detailed validator failed: "
                        f"{_strip_ns(str(failure))}",
                        line=getattr(root, "sourceline", None),
                        path=element_path(root),
                        kind=SCHEMA,
                    )
                ]
            return [
                Finding(
                    message=f"document is not valid against {self.name}",
                    line=getattr(root, "sourceline", None),
                    path=element_path(root),
                    kind=SCHEMA,
                )
            ]
        findings.sort(key=lambda f: (f.line is None, f.line or 0))
        return _dedupe(findings)


# The optional <Type>_r2_3 slots the 2030.5-2018 schema puts in every type for later revisions: rarely
# sent, so the fast gate leaves them out, and listing them among the allowed children of a finding would
# bury the names an engineer is looking for.
_REVISION_SLOT = re.compile(r"_r\d+_\d+$")


def _gate_schema(doc: etree._Element) -> etree.XMLSchema | None:
    """A stricter copy of the schema that libxml2 checks faster, tried before the schema itself.

    2030.5's content models end in optional ``xs:any namespace="##other"`` wildcards; libxml2 cannot
    compile a content model with such a negated wildcard to its compact automaton, which makes every
    2030.5 document about a third slower to validate than without them (bench/bench_validation.py).
    The copy drops every optional wildcard (``xs:any`` with minOccurs 0, ``xs:anyAttribute``) and the
    optional revision slots. Dropping an optional particle or an attribute wildcard can only remove
    documents from what a schema accepts, never add one: whatever the copy accepts the schema accepts,
    so the verdict stays the schema's (a document the copy rejects is validated against the schema).
    None when the copy does not compile (a restriction may rely on a base's wildcard): no gate then.
    """
    copy = etree.fromstring(etree.tostring(doc), _schema_parser(), base_url=doc.getroottree().docinfo.URL)
    removed = 0
    for node in list(copy.iter(f"{{{XS_NS}}}any", f"{{{XS_NS}}}anyAttribute", f"{{{XS_NS}}}element")):
        tag = etree.QName(node).localname
        optional = node.get("minOccurs") == "0"
        if (tag == "anyAttribute" or (tag == "any" and optional)
                or (tag == "element" and optional and _REVISION_SLOT.search(node.get("name") or ""))):
            node.getparent().remove(node)  # type: ignore[union-attr]
            removed += 1
    if not removed:
        return None  # nothing to gain
    try:
        return etree.XMLSchema(copy)
    except etree.XMLSchemaParseError:
        return None


_UNKNOWN: Any = object()  # a root tag not met yet


def _as_element(root: Any) -> etree._Element:
    """Accept an element or an element tree."""
    return root.getroot() if isinstance(root, etree._ElementTree) else root


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop repeated findings, keeping the first occurrence's order."""
    seen: set[Finding] = set()
    out: list[Finding] = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _without_echoes(pairs: list[tuple[Any, Finding]]) -> list[Finding]:
    """Findings of xmlschema errors, each fault once, at the element it is about.

    xmlschema reports some faults twice: a rejected ``xsi:type`` is raised by the element and again by
    its parent's content model. The parent's copy has the same reason and an ancestor element, so it
    is dropped in favour of the one that names the element.
    """
    located: dict[str, list[Any]] = {}
    for err, _finding in pairs:
        elem = getattr(err, "elem", None)
        if isinstance(getattr(elem, "tag", None), str):
            located.setdefault(str(getattr(err, "reason", None) or err), []).append(elem)
    out: list[Finding] = []
    for err, finding in pairs:
        elem = getattr(err, "elem", None)
        if isinstance(getattr(elem, "tag", None), str):
            others = located.get(str(getattr(err, "reason", None) or err), [])
            if any(other is not elem and elem in other.iterancestors() for other in others):
                continue  # the same fault, reported again by an ancestor
        out.append(finding)
    return out


def _names(components: Any, hide_slots: bool = False) -> list[str]:
    """Names of xmlschema element components (for 'expected' lists), without the namespace for 2030.5's."""
    out: list[str] = []
    for comp in components or ():
        name = getattr(comp, "name", None) or getattr(comp, "local_name", None)
        if not name:
            continue  # a wildcard: foreign elements are always allowed, so it adds nothing here
        text = _strip_ns(str(name))
        if hide_slots and _REVISION_SLOT.search(text):
            continue
        if text not in out:
            out.append(text)
    return out


def _finding_from_xmlschema(err: Any) -> Finding:
    """Readable finding from one xmlschema validation error."""
    elem = getattr(err, "elem", None)
    if not isinstance(getattr(elem, "tag", None), str):
        elem = None
    reason = _strip_ns(str(getattr(err, "reason", None) or err))
    kind = type(err).__name__
    target = elem
    message = reason
    substitution = _SUBSTITUTION_RE.match(str(getattr(err, "reason", None) or ""))
    if elem is not None and substitution is not None:
        message = _substitution_message(elem, substitution.group(2))
    elif elem is not None and kind == "XMLSchemaChildrenValidationError":
        parent = display_name(elem.tag)
        expected = _names(getattr(err, "expected", None))
        invalid_tag = getattr(err, "invalid_tag", None)
        index = getattr(err, "index", None)
        if invalid_tag is not None:
            child = _child_at(elem, index, invalid_tag)
            target = child if child is not None else elem
            seen = display_name(str(invalid_tag))
            if expected and seen in expected:
                # xmlschema lists the group's names when an element comes before one it must follow: say so.
                allowed = _names(_iter_elements(getattr(err, "validator", None)), hide_slots=True) or expected
                message = (f"in {parent}: element {seen} is out of order (expected {expected[0]} first); "
                           f"children, in order: {', '.join(allowed)}")
            elif expected:
                message = f"in {parent}: expected {' or '.join(expected)}, saw {seen}"
            else:
                # xmlschema gives no expectation once only optional elements
                # remain, so list the content model for the reader instead.
                allowed = _names(_iter_elements(getattr(err, "validator", None)), hide_slots=True)
                if allowed:
                    message = (
                        f"in {parent}: element {seen} is out of order or not allowed here; "
                        f"allowed children, in order: {', '.join(allowed)}"
                    )
                else:
                    message = f"in {parent}: expected no child elements, saw {seen}"
        else:
            missing = " or ".join(expected) if expected else "more content"
            message = f"in {parent}: required element missing: expected {missing}, saw end of {parent}"
    elif elem is not None:
        name = display_name(elem.tag)
        if reason.startswith("attribute ") or not _is_value_validator(getattr(err, "validator", None)):
            message = f"in {name}: {reason}"
        else:
            obj = getattr(err, "obj", None)
            seen = obj if isinstance(obj, str) else (elem.text or "").strip()
            vtype = _type_name(getattr(err, "validator", None))
            expected = f"expected a valid {vtype} value" if vtype else "expected a valid value"
            message = f"in {name}: {expected}, saw {seen!r} ({reason})"
    return Finding(
        message=message,
        line=getattr(target, "sourceline", None) if target is not None else None,
        path=element_path(target) if target is not None else _strip_ns(str(getattr(err, "path", "") or "")) or None,
        kind=SCHEMA,
    )


# "XsdComplexType(name='Link') cannot substitute XsdComplexType(name='TimeLink')": a rejected xsi:type.
_SUBSTITUTION_RE = re.compile(r"^(Xsd\w+\(.*?\)) cannot substitute (Xsd\w+\(.*\))$", re.DOTALL)


def _substitution_message(elem: etree._Element, declared_repr: str) -> str:
    """Readable finding for an xsi:type naming a type that cannot stand in for the declared one."""
    name = display_name(elem.tag)
    given = elem.get(XSI_TYPE, "")
    declared = re.match(r"Xsd\w+\(name='([^']*)'", declared_repr)
    if declared is None:
        # No named type derives from an anonymous one. Every 2030.5 global element has an anonymous type
        # (its named type plus schemaVer), so this is the fate of any xsi:type on a document's root.
        if elem.getparent() is None:
            return (f'in {name}: xsi:type="{given}" cannot replace the anonymous type of global element {name}; '
                    "a document's root element takes no xsi:type")
        return f'in {name}: xsi:type="{given}" cannot replace the anonymous type declared for {name}'

    base = _strip_ns(declared.group(1))
    return f'in {name}: expected xsi:type to name {base} or a type derived from it, saw xsi:type="{given}"'


def _is_value_validator(validator: Any) -> bool:
    """Whether an error came from checking an element's text (simple type, facet or range check)."""
    kind = type(validator).__name__
    return kind in {"XsdAtomicBuiltin", "XsdAtomicRestriction", "XsdUnion", "XsdList", "function"} or (
        kind.startswith("Xsd") and kind.endswith(("Facet", "Facets"))  # XsdPatternFacets: a pattern mismatch
    )


def _iter_elements(validator: Any) -> Any:
    """Element declarations of an xmlschema model group, in order; empty if not a group."""
    fn = getattr(validator, "iter_elements", None)
    return fn() if callable(fn) else ()


def _type_name(validator: Any) -> str | None:
    """Printable name of the simple type that rejected a value, if xmlschema knows it."""
    name = getattr(validator, "prefixed_name", None) or getattr(validator, "name", None)
    if not isinstance(name, str):
        return None
    return _strip_ns(name.replace("{http://www.w3.org/2001/XMLSchema}", "xs:"))


def _child_at(parent: etree._Element, index: Any, tag: Any) -> etree._Element | None:
    """The child xmlschema complained about: by position if it matches, else the first with that tag."""
    if isinstance(index, int) and 0 <= index < len(parent) and parent[index].tag == tag:
        return parent[index]
    for child in parent:
        if child.tag == tag:
            return child
    return None


def _finding_from_lxml(root: etree._Element, entry: Any) -> Finding:
    """Finding from one libxml2 error-log entry (fallback when xmlschema cannot explain)."""
    path: str | None = getattr(entry, "path", None) or None
    if path and path.startswith("/"):
        # libxml2 gives a positional path ("/*/*[2]") from the validated element,
        # which need not be its document's root: resolve it relative to ``root``.
        rest = path.split("/", 2)[2] if path.count("/") > 1 else ""
        try:
            hits = root.xpath("./" + rest) if rest else [root]
            if hits and isinstance(hits[0], etree._Element):
                path = element_path(hits[0])
        except (etree.XPathError, ValueError):
            pass  # keep libxml2's positional path; still better than none
    line = entry.line if getattr(entry, "line", 0) else None
    return Finding(message=_strip_ns(str(entry.message)), line=line, path=path, kind=SCHEMA)
