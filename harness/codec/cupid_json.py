"""IEEE 2030.5 resources in CUPID's JSON dialect: XML -> JSON as CUPID writes it, JSON -> XML from every form
CUPID reads, and validation of JSON by converting it and applying the schema (docs/json-mapping.md).

The dialect is what Gson does with the classes JAXB's xjc generates from sep.xsd (there is no published
specification): members named as xjc's Java fields, attributes and elements alike, repeated elements as
arrays under the singular name, hexBinary as arrays of byte values (written signed, as Gson does),
simple-content types as ``{"value": ...}``, ``TimeType`` as bare seconds, no namespaces, no xsi:type. The
per-type rules come from the schema (:mod:`harness.codec.mapping`), never from hand-written code per type.

Where the dialect cannot carry something or is ambiguous, a finding names the member instead of a guess:
warnings when the harness writes (bytes >= 0x80 written signed, integers beyond 2^53, an xsi:type
subtype, revision slots and foreign elements dropped); when it reads, failures for what is not a 2030.5-2018
resource (unknown members, pre-2018 names with the 2018 name, wrong JSON types, bytes out of range).

Findings' paths are JSON pointers (``/dERControl/derControlBase/opModFixedW``), arrays indexed from 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from harness.codec.legacy import LEGACY_MEMBERS
from harness.codec.mapping import BOOL, BYTES, INT, OBJECT, SLOT, TIME, WRAPPED, Member, MemberTable, table_for
from harness.codec.xjc import wrapper_key
from harness.sep.findings import CHECK, FAILURE, PARSE, SEP_NS, WARNING, XSI_TYPE, Finding, element_path
from harness.sep.structure import SchemaStructure

MEDIA_TYPE_JSON = "application/sep+json"
SAFE_INTEGER = 2**53  # beyond it a JSON reader that holds numbers as doubles (JavaScript) loses precision
_NS = "{" + SEP_NS + "}"


def _pointer(parts: list[str | int]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


@dataclass
class Conversion:
    """The outcome of one conversion: the result (a JSON object, or an XML root), the findings, and for a
    JSON -> XML conversion the JSON pointer each XML element came from (``pointers``)."""

    result: Any
    findings: list[Finding] = field(default_factory=list)
    pointers: dict[str, str] = field(default_factory=dict)  # XML element path -> JSON pointer
    root_name: str | None = None
    wrapped: bool = False

    @property
    def failures(self) -> list[Finding]:
        """The findings of severity failure."""
        return [f for f in self.findings if f.severity == FAILURE]


# --- XML -> JSON ---------------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, table: MemberTable) -> None:
        self.table = table
        self.structure = table.structure
        self.findings: list[Finding] = []

    def note(self, where: list[str | int], message: str) -> None:
        self.findings.append(Finding(message, None, _pointer(where), CHECK, WARNING))

    def scalar(self, text: str | None, kind: str | None, where: list[str | int]) -> Any:
        text = (text or "").strip() if kind != "str" else (text or "")
        if kind == BYTES:
            try:
                data = bytes.fromhex(text)
            except ValueError:
                self.note(where, f"expected hexBinary, saw {text!r}; written as a string")
                return text
            if any(b >= 0x80 for b in data):
                self.note(where, f"bytes >= 0x80 in {data.hex().upper()} are written signed (Gson's default: 0xAB "
                                 "is -85); a reader that expects 0..255 misreads them")
            return [b - 256 if b >= 0x80 else b for b in data]
        if kind == INT:
            try:
                value = int(text)
            except ValueError:
                self.note(where, f"expected an integer, saw {text!r}; written as a string")
                return text
            if abs(value) > SAFE_INTEGER:
                self.note(where, f"{value} is beyond 2^53: a JSON reader holding numbers as doubles loses precision")
            return value
        if kind == BOOL:
            return text in ("true", "1")
        return text

    def element(self, el: etree._Element, type_name: str, where: list[str | int], root: str | None = None
                ) -> dict[str, Any]:
        actual = el.get(XSI_TYPE)
        if actual is not None:
            sub = actual.split(":")[-1]
            declared = self.table.by_json(type_name)
            extra = [m.json for m in self.table.members(sub) if m.json not in declared]
            self.note(where, f"xsi:type {sub!r} (declared {type_name}) cannot be carried: CUPID's JSON names no type, "
                             f"and a reader builds {type_name}, dropping {', '.join(extra) or 'nothing'}")
            if self.structure.type_info(sub) is not None:
                type_name = sub
        members = self.table.gson_order(type_name, root)
        by_xml = {(m.xml, m.attribute): m for m in members}
        children: dict[str, list[etree._Element]] = {}
        for child in el:
            if not isinstance(child.tag, str):
                continue
            local = etree.QName(child).localname
            known = by_xml.get((local, False))
            if not child.tag.startswith(_NS) or known is None or known.shape == SLOT:
                self.note([*where, local], f"element {local!r} ({child.tag}) is not carried: CUPID's classes "
                                           "(sep.xsd 2.1.0) have no field for revision slots or foreign elements")
                continue
            children.setdefault(local, []).append(child)
        out: dict[str, Any] = {}
        for member in members:
            if member.attribute:
                value = el.get(member.xml)
                if value is not None:
                    out[member.json] = self.value(None, value, member, [*where, member.json])
                continue
            found = children.get(member.xml)
            if not found:
                continue  # Gson drops nulls, and JAXB leaves an empty list null
            if member.repeated:
                out[member.json] = [self.value(c, c.text, member, [*where, member.json, i])
                                    for i, c in enumerate(found)]
            else:
                out[member.json] = self.value(found[0], found[0].text, member, [*where, member.json])
        for name in el.attrib:
            local = etree.QName(name).localname
            if name != XSI_TYPE and (local, True) not in by_xml:
                self.note([*where, local], f"attribute {name!r} is not carried (no field in CUPID's classes)")
        return out

    def value(self, el: etree._Element | None, text: str | None, member: Member, where: list[str | int]) -> Any:
        if member.shape == OBJECT and el is not None:
            return self.element(el, member.type, where)
        if el is not None and el.get(XSI_TYPE) is not None:
            self.note(where, f"xsi:type {el.get(XSI_TYPE)!r} (declared {member.type}) cannot be carried: the value is "
                             f"written as {member.type}, and CUPID's JSON names no type")
        if member.shape == TIME:
            return self.scalar(text, INT, where)
        if member.shape == WRAPPED:
            return {"value": self.scalar(text, member.scalar, [*where, "value"])}
        return self.scalar(text, member.shape, where)


def xml_to_json(root: etree._Element, structure: SchemaStructure, *, wrap: bool = True) -> Conversion:
    """A 2030.5 resource as CUPID writes it: ``{"<class name, first letter lower-cased>": {...}}`` (wrap) or
    bare. Warning findings name what the dialect cannot carry. Raises ValueError for a root the schema does
    not declare as a global element."""
    name = etree.QName(root).localname
    type_name = structure.global_type(name)
    if type_name is None or etree.QName(root).namespace != SEP_NS:
        raise ValueError(f"expected a 2030.5 resource (a global element of the schema), saw {root.tag}")
    writer = _Writer(table_for(structure))
    where: list[str | int] = [wrapper_key(name)] if wrap else []
    body = writer.element(root, type_name, where, root=name)
    return Conversion({wrapper_key(name): body} if wrap else body, writer.findings, root_name=name, wrapped=wrap)


def dumps(data: Any) -> bytes:
    """JSON bytes as CUPID writes them (compact, UTF-8, no ASCII escaping)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# --- JSON -> XML ---------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, table: MemberTable) -> None:
        self.table = table
        self.structure = table.structure
        self.findings: list[Finding] = []
        self.pointers: dict[etree._Element, str] = {}

    def fail(self, where: list[str | int], message: str, severity: str = FAILURE) -> None:
        self.findings.append(Finding(message, None, _pointer(where), CHECK, severity))

    def scalar(self, value: Any, kind: str | None, where: list[str | int], type_name: str) -> str | None:
        name = where[-1] if where else "?"
        if kind == BYTES:
            if not isinstance(value, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in value):
                self.fail(where, f"member {name!r} ({type_name}, hexBinary): expected an array of byte values, "
                                 f"saw {json.dumps(value)[:80]}")
                return None
            bad = [b for b in value if not -128 <= b <= 255]
            if bad:
                self.fail(where, f"member {name!r}: byte values must be -128..255 (Gson reads signed or unsigned), "
                                 f"saw {bad[:5]}")
                return None
            return bytes(b & 0xFF for b in value).hex().upper()
        if kind == INT:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                self.fail(where, f"member {name!r} ({type_name}): expected a JSON number, saw {json.dumps(value)[:80]}")
                return None
            if isinstance(value, str):
                try:
                    number = int(value.strip())
                except ValueError:
                    self.fail(where, f"member {name!r} ({type_name}): expected a JSON number, saw {value!r}")
                    return None
                self.fail(where, f"member {name!r}: a number written as a string ({value!r}); CUPID writes numbers "
                                 "unquoted", WARNING)
                value = number
            if isinstance(value, float):
                if not value.is_integer():
                    self.fail(where, f"member {name!r} ({type_name}): expected an integer, saw {value!r}")
                    return None
                value = int(value)
            if abs(value) > SAFE_INTEGER:
                self.fail(where, f"member {name!r}: {value} is beyond 2^53; readers holding JSON numbers as doubles "
                                 "lose precision", WARNING)
            return str(value)
        if kind == BOOL:
            if not isinstance(value, bool):
                self.fail(where, f"member {name!r} ({type_name}): expected true or false, saw {json.dumps(value)[:80]}")
                return None
            return "true" if value else "false"
        if not isinstance(value, str):
            self.fail(where, f"member {name!r} ({type_name}): expected a JSON string, saw {json.dumps(value)[:80]}")
            return None
        return value

    def fill(self, el: etree._Element, obj: Any, type_name: str, where: list[str | int], root: str | None = None
             ) -> None:
        self.pointers[el] = _pointer(where)
        if not isinstance(obj, dict):
            self.fail(where, f"{type_name}: expected a JSON object, saw {json.dumps(obj)[:80]}")
            return
        members = self.table.by_json(type_name, root)
        for key in obj:
            if key in members:
                continue
            if key in LEGACY_MEMBERS:
                self.fail([*where, key], f"member {key!r} of {type_name} is a pre-2018 name; IEEE 2030.5-2018 calls it "
                                         f"{' / '.join(LEGACY_MEMBERS[key])} (CUPID's 2018 classes drop it silently)")
            else:
                subtypes = sorted(self.structure.derived_types(type_name) - {type_name})
                hint = (f"; it may belong to a subtype ({', '.join(subtypes[:4])}), which JSON cannot name"
                        if subtypes else "")
                self.fail([*where, key], f"member {key!r} is not a member of {type_name}{hint}")
        for member in self.table.members(type_name, root):
            if member.json not in obj or obj[member.json] is None:
                continue
            value = obj[member.json]
            at = [*where, member.json]
            if member.shape == SLOT:
                self.fail(at, f"member {member.json!r} is a revision slot the dialect does not carry", WARNING)
                continue
            if member.attribute:
                text = self.value_text(value, member, at)
                if text is not None:
                    el.set(member.xml, text)
                continue
            items = value if member.repeated else [value]
            if member.repeated and not isinstance(value, list):
                self.fail(at, f"member {member.json!r} repeats in {type_name}: expected a JSON array, saw one value",
                          WARNING)
                items = [value]
            for index, item in enumerate(items):
                item_at = [*at, index] if member.repeated and isinstance(value, list) else at
                child = etree.SubElement(el, _NS + member.xml)
                if member.shape == OBJECT:
                    self.fill(child, item, member.type, item_at)
                    continue
                self.pointers[child] = _pointer(item_at)
                text = self.value_text(item, member, item_at)
                if text is None:
                    el.remove(child)
                else:
                    child.text = text

    def value_text(self, value: Any, member: Member, at: list[str | int]) -> str | None:
        if member.shape == TIME:
            if isinstance(value, dict) and set(value) == {"value"}:
                self.fail(at, f"member {member.json!r} (TimeType): CUPID writes a bare number of seconds, saw "
                              "{\"value\": ...}", WARNING)
                value = value["value"]
            return self.scalar(value, INT, at, member.type)
        if member.shape == WRAPPED:
            if not isinstance(value, dict) or "value" not in value:
                self.fail(at, f"member {member.json!r} ({member.type}): expected {{\"value\": ...}}, saw "
                              f"{json.dumps(value)[:80]}")
                return None
            extra = sorted(set(value) - {"value"})
            if extra:
                self.fail(at, f"member {member.json!r} ({member.type}): unknown members {extra} beside 'value'")
            return self.scalar(value["value"], member.scalar, [*at, "value"], member.type)
        return self.scalar(value, member.shape, at, member.type)


def _root_of(data: Any, structure: SchemaStructure, expected_root: str | None) -> tuple[str | None, Any, bool]:
    """(root element name, its members, wrapped?) as CUPID's fromJSONToIEEE reads: a single key equal to a
    class name in any letter case wraps the resource; anything else is bare (then expected_root names it)."""
    if isinstance(data, dict) and len(data) == 1:
        (key, inner), = data.items()
        if expected_root is not None and key.lower() == expected_root.lower():
            return expected_root, inner, True
        if expected_root is None:
            by_lower = {name.lower(): name for name in structure.element_names()}
            if key.lower() in by_lower:
                return by_lower[key.lower()], inner, True
    return expected_root, data, False


def json_to_xml(data: bytes | str | Any, structure: SchemaStructure, expected_root: str | None = None) -> Conversion:
    """A 2030.5 XML resource from CUPID JSON, wrapped (key = class name in any letter case) or bare.

    expected_root names the resource when the JSON is bare (e.g. the resource the request asked for). The
    result is None, with a parse finding, when the bytes are not JSON or the resource cannot be told.
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            message = f"expected JSON (CUPID's encoding of a 2030.5 resource), saw bytes that do not parse: {exc}"
            return Conversion(None, [Finding(message, None, None, PARSE, FAILURE)])
    name, inner, wrapped = _root_of(data, structure, expected_root)
    if name is None or structure.global_type(name) is None:
        keys = list(data)[:5] if isinstance(data, dict) else type(data).__name__
        message = (f"cannot tell which 2030.5 resource this JSON is: expected a wrapper key naming one "
                   f"(e.g. 'dERControl') or a bare {expected_root or 'resource the request asked for'}, saw {keys}")
        return Conversion(None, [Finding(message, None, None, PARSE, FAILURE)])
    reader = _Reader(table_for(structure))
    root = etree.Element(_NS + name, nsmap={None: SEP_NS})
    where: list[str | int] = [next(iter(data))] if wrapped else []
    reader.fill(root, inner, str(structure.global_type(name)), where, root=name)
    pointers = {element_path(el): pointer for el, pointer in reader.pointers.items()}
    return Conversion(root, reader.findings, pointers, root_name=name, wrapped=wrapped)


def validate_json(data: bytes | str, schema: Any, expected_root: str | None = None) -> Conversion:
    """Convert CUPID JSON to XML and validate it (harness.sep.schema.SchemaSet): the conversion's findings and
    the schema's, each pointing at the JSON member (the XML path is kept in the message)."""
    conversion = json_to_xml(data, schema.structure(), expected_root)
    if conversion.result is None:
        return conversion
    for finding in schema.validate(conversion.result, expected_root=expected_root or conversion.root_name):
        pointer = _nearest(conversion.pointers, finding.path)
        message = f"{finding.message} (XML {finding.path})" if finding.path else finding.message
        conversion.findings.append(Finding(message, None, pointer, finding.kind, finding.severity))
    return conversion


def _nearest(pointers: dict[str, str], xml_path: str | None) -> str | None:
    """The JSON pointer of the XML element at xml_path, or of its nearest ancestor that has one."""
    path = xml_path
    while path:
        if path in pointers:
            return pointers[path]
        path = path.rsplit("/", 1)[0]
    return xml_path


class CupidJsonCodec:
    """The body codec (harness.sep.codec.Codec) of CUPID's JSON: ``application/sep+json``.

    parse() returns the XML resource a JSON body stands for and raises XMLRejected when the body is not JSON
    or names no resource; the conversion's findings of the last parse are kept in ``last`` for the caller.
    """

    media_type = MEDIA_TYPE_JSON

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.structure = schema.structure()
        self.last: Conversion | None = None

    def parse(self, body: bytes, max_bytes: int = 16 * 1024 * 1024, expected_root: str | None = None
              ) -> etree._Element:
        """The resource of a CUPID JSON body as a 2030.5 XML element (wrapped, or bare of expected_root)."""
        from harness.sep.safexml import XMLRejected

        if len(body) > max_bytes:
            raise XMLRejected(f"expected at most {max_bytes} bytes, saw {len(body)}")
        self.last = conversion = json_to_xml(body, self.structure, expected_root)
        if conversion.result is None:
            raise XMLRejected(conversion.findings[0].message)
        return conversion.result

    def serialize(self, root: etree._Element) -> bytes:
        """The resource as CUPID writes it (wrapped)."""
        return dumps(xml_to_json(root, self.structure).result)


def cupid_json_codec(schema: Any) -> CupidJsonCodec:
    """The JSON codec for a run validating against schema (harness.sep.schema.SchemaSet)."""
    return CupidJsonCodec(schema)
