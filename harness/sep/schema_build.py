"""Build the bundled XML Schema from the harness's own model of IEEE 2030.5-2018.

The bundled schema, ``harness/sep/schema/harness2030_5.xsd``, is generated: its source is the model
``harness/sep/schema/harness2030_5.model``, written in a compact notation of this project's (its
header describes it). Keeping the facts in our own notation and the XSD a pure function of them makes
two things plain: the shipped schema is our text, not a copy of IEEE's ``sep.xsd`` (which may not be
redistributed), and a change to the model is a one-line change reviewed as such.

Regenerate after editing the model::

    python -m harness.sep.schema_build            # writes the XSD next to the model
    python -m harness.sep.schema_build --check    # exit 1 when the shipped XSD is not the model's

Nothing on the validation path imports this module: the harness reads the generated XSD only.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = [
    "MODEL_PATH",
    "XSD_PATH",
    "Attribute",
    "Child",
    "ComplexDef",
    "Model",
    "ModelError",
    "SimpleDef",
    "Wildcard",
    "build_xsd",
    "main",
    "parse_model",
]

SCHEMA_DIR = Path(__file__).parent / "schema"
MODEL_PATH = SCHEMA_DIR / "harness2030_5.model"
XSD_PATH = SCHEMA_DIR / "harness2030_5.xsd"

TARGET_NS = "urn:ieee:std:2030.5:ns"
SCHEMA_VERSION = "csip-harness 2030.5-2018"
OTHER = "##other"

# Facet names of the notation and the XSD elements they stand for.
_FACETS = {"min": "minInclusive", "max": "maxInclusive", "maxLength": "maxLength", "pattern": "pattern"}
_OCCURS = {"": (1, 1), "?": (0, 1), "*": (0, None), "+": (1, None)}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_COMMENT = re.compile(r"(?:^|\s)#(?:\s|$)")


class ModelError(ValueError):
    """The model text breaks the notation; the message names the line and what was expected."""


@dataclass(frozen=True)
class SimpleDef:
    """``simple NAME BASE FACET=VALUE...``: a restriction of BASE (a simple type or an xs: type)."""

    name: str
    base: str
    facets: tuple[tuple[str, str], ...]  # (notation facet name, value), in model order
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Child:
    """A local element of a type's sequence; ``max_occurs`` None means unbounded."""

    name: str
    type: str
    min_occurs: int
    max_occurs: int | None
    default: str | None


@dataclass(frozen=True)
class Wildcard:
    """``...``: any element of ``namespace`` (``##other`` or ``##targetNamespace``), processed laxly."""

    namespace: str
    min_occurs: int
    max_occurs: int | None


@dataclass(frozen=True)
class Attribute:
    """``@NAME TYPE [required] [= DEFAULT]``."""

    name: str
    type: str
    required: bool
    default: str | None


@dataclass
class ComplexDef:
    """A complex type: ``type``, ``value``, a ``links`` entry or the ``revision`` type."""

    name: str
    kind: str  # "type", "value", "revision"
    base: str | None
    root: bool = False
    content: list[Child | Wildcard] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    comments: tuple[str, ...] = ()
    line: int = 0


@dataclass
class Model:
    """Everything the model file declares, in file order; ``sections`` holds (title, names) pairs."""

    simple: dict[str, SimpleDef] = field(default_factory=dict)
    complex: dict[str, ComplexDef] = field(default_factory=dict)
    revision: str | None = None
    root_attribute: Attribute | None = None
    order: list[tuple[str, str]] = field(default_factory=list)  # ("section", title) or ("decl", name)

    def names(self) -> set[str]:
        """Every declared type name."""
        return set(self.simple) | set(self.complex)


def _occurs(token: str, where: str) -> tuple[int, int | None]:
    """Occurrence token of the notation -> (min, max); max None is unbounded."""
    if token in _OCCURS:
        return _OCCURS[token]
    match = re.fullmatch(r"(\d+)\.\.(\d+|\*)", token)
    if not match:
        raise ModelError(f"{where}: expected an occurrence (?, *, +, MIN..MAX), saw {token!r}")
    low, high = int(match.group(1)), None if match.group(2) == "*" else int(match.group(2))
    if high is not None and high < low:
        raise ModelError(f"{where}: occurrence {token!r} has its maximum below its minimum")
    return low, high


def _split_default(tokens: list[str], where: str) -> tuple[list[str], str | None]:
    """Split ``... = VALUE`` off a token list."""
    if "=" not in tokens:
        return tokens, None
    at = tokens.index("=")
    if at != len(tokens) - 2:
        raise ModelError(f"{where}: expected one value after '=', saw {' '.join(tokens[at:])!r}")
    return tokens[:at], tokens[at + 1]


def _check_name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise ModelError(f"{where}: expected a name, saw {name!r}")
    return name


def parse_model(text: str, source: str = "model") -> Model:
    """Parse the model notation (see the model file's header) into a :class:`Model`.

    Raises :class:`ModelError` naming ``source:line`` for a malformed line, a duplicate name, or a
    type, base or attribute type that is neither declared in the model nor an ``xs:`` built-in type.
    """
    model = Model()
    current: ComplexDef | None = None
    comments: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        stripped = raw.strip()
        if raw.startswith("## "):
            model.order.append(("section", stripped[3:].strip()))
            current, comments = None, []
            continue
        if stripped == "#" or stripped.startswith("# "):
            comments.append(stripped[2:].rstrip())
            continue
        # A comment is "#" standing alone as a word, so "##other" and patterns are not cut short.
        tokens = _COMMENT.split(raw, 1)[0].split()
        if not tokens:
            # A comment belongs to the declaration right below it; a blank line ends a declaration.
            current, comments = None, []
            continue
        if raw[0].isspace():
            if current is None:
                raise ModelError(f"{where}: an indented line must follow a type declaration")
            _parse_member(current, tokens, where)
            continue
        current = None
        keyword, rest = tokens[0], tokens[1:]
        notes = tuple(comments)
        comments = []
        if keyword == "simple":
            if len(rest) < 2:
                raise ModelError(f"{where}: expected 'simple NAME BASE [FACET=VALUE ...]'")
            facets = []
            for item in rest[2:]:
                key, sep, value = item.partition("=")
                if not sep or key not in _FACETS:
                    raise ModelError(f"{where}: expected a facet ({', '.join(_FACETS)})=VALUE, saw {item!r}")
                facets.append((key, value))
            _declare(model, _check_name(rest[0], where), where)
            model.simple[rest[0]] = SimpleDef(rest[0], rest[1], tuple(facets), notes)
            model.order.append(("decl", rest[0]))
        elif keyword == "value":
            if len(rest) != 2:
                raise ModelError(f"{where}: expected 'value NAME BASE'")
            _declare(model, _check_name(rest[0], where), where)
            model.complex[rest[0]] = ComplexDef(rest[0], "value", rest[1], comments=notes, line=number)
            model.order.append(("decl", rest[0]))
        elif keyword == "type":
            root = bool(rest) and rest[-1] == "root"
            body = rest[:-1] if root else rest
            if len(body) == 1:
                name, base = body[0], None
            elif len(body) == 3 and body[1] == ":":
                name, base = body[0], body[2]
            else:
                raise ModelError(f"{where}: expected 'type NAME [: BASE] [root]', saw {stripped!r}")
            _declare(model, _check_name(name, where), where)
            current = model.complex[name] = ComplexDef(name, "type", base, root, comments=notes, line=number)
            model.order.append(("decl", name))
        elif keyword == "links":
            if not rest or not rest[0].endswith(":"):
                raise ModelError(f"{where}: expected 'links BASE: NAME ...'")
            base = rest[0][:-1]
            for name in rest[1:]:
                _declare(model, _check_name(name, where), where)
                model.complex[name] = ComplexDef(name, "type", base, comments=notes, line=number)
                model.order.append(("decl", name))
                notes = ()
            current = _LinksContinuation(model, base, number)  # type: ignore[assignment]
        elif keyword == "revision":
            if len(rest) != 1:
                raise ModelError(f"{where}: expected 'revision NAME'")
            _declare(model, _check_name(rest[0], where), where)
            current = model.complex[rest[0]] = ComplexDef(rest[0], "revision", None, comments=notes, line=number)
            model.revision = rest[0]
            model.order.append(("decl", rest[0]))
        elif keyword == "rootattr":
            names, default = _split_default(rest, where)
            if len(names) != 2:
                raise ModelError(f"{where}: expected 'rootattr NAME TYPE [= DEFAULT]'")
            model.root_attribute = Attribute(names[0], names[1], False, default)
        else:
            raise ModelError(
                f"{where}: expected simple, value, type, links, revision, rootattr or '## ', saw {keyword!r}"
            )
    _check_references(model, source)
    return model


class _LinksContinuation:
    """Indented lines after ``links BASE:`` continue its list of names."""

    def __init__(self, model: Model, base: str, line: int) -> None:
        self.model, self.base, self.line = model, base, line


def _declare(model: Model, name: str, where: str) -> None:
    if name in model.simple or name in model.complex:
        raise ModelError(f"{where}: {name} is declared twice")


def _parse_member(current: ComplexDef | _LinksContinuation, tokens: list[str], where: str) -> None:
    """One indented line: a child, an attribute, a wildcard, or more link names."""
    if isinstance(current, _LinksContinuation):
        for name in tokens:
            _declare(current.model, _check_name(name, where), where)
            current.model.complex[name] = ComplexDef(name, "type", current.base, line=current.line)
            current.model.order.append(("decl", name))
        return
    if current.kind == "value":
        raise ModelError(f"{where}: a value type has no members")
    head, rest = tokens[0], tokens[1:]
    if head == "...":
        if not rest:
            current.content.append(Wildcard(OTHER, 0, None))
        elif len(rest) == 2 and rest[0] in (OTHER, "##targetNamespace", "##any"):
            low, high = _occurs(rest[1], where)
            current.content.append(Wildcard(rest[0], low, high))
        else:
            raise ModelError(f"{where}: expected '... [NAMESPACE OCC]', saw {' '.join(tokens)!r}")
        return
    rest, default = _split_default(rest, where)
    if head.startswith("@"):
        required = bool(rest) and rest[-1] == "required"
        names = rest[:-1] if required else rest
        if len(names) != 1:
            raise ModelError(f"{where}: expected '@NAME TYPE [required] [= DEFAULT]'")
        if required and default is not None:
            raise ModelError(f"{where}: a required attribute has no default")
        current.attributes.append(Attribute(_check_name(head[1:], where), names[0], required, default))
        return
    if current.content and isinstance(current.content[-1], Wildcard):
        raise ModelError(f"{where}: a child element after '...' would make the content ambiguous")
    if len(rest) not in (1, 2):
        raise ModelError(f"{where}: expected 'CHILD TYPE [OCC] [= DEFAULT]', saw {' '.join(tokens)!r}")
    low, high = _occurs(rest[1] if len(rest) == 2 else "", where)
    current.content.append(Child(_check_name(head, where), rest[0], low, high, default))


def _check_references(model: Model, source: str) -> None:
    """Every type named anywhere is declared (or is an xs: built-in); bases have the right kind."""
    known = model.names()

    def need(name: str, what: str, line: int) -> None:
        if not name.startswith("xs:") and name not in known:
            raise ModelError(f"{source}:{line}: {what} names type {name!r}, which the model does not declare")

    for simple in model.simple.values():
        need(simple.base, f"simple type {simple.name}", 0)
        if simple.base in model.complex:
            raise ModelError(f"{source}: simple type {simple.name} restricts complex type {simple.base}")
    for comp in model.complex.values():
        if comp.base is not None:
            need(comp.base, f"type {comp.name}", comp.line)
            if comp.kind == "type" and comp.base in model.simple:
                raise ModelError(
                    f"{source}:{comp.line}: type {comp.name} extends simple type {comp.base}; "
                    "use 'value' for a complex type with simple content"
                )
            if comp.kind == "value" and comp.base in model.complex:
                raise ModelError(f"{source}:{comp.line}: value type {comp.name} needs a simple base")
        for item in comp.content:
            if isinstance(item, Child):
                need(item.type, f"element {comp.name}/{item.name}", comp.line)
        for attr in comp.attributes:
            need(attr.type, f"attribute {comp.name}/@{attr.name}", comp.line)
            if attr.type in model.complex:
                raise ModelError(f"{source}:{comp.line}: attribute {comp.name}/@{attr.name} needs a simple type")
        if comp.root and model.root_attribute is None:
            raise ModelError(f"{source}:{comp.line}: 'root' used before 'rootattr' declared the root attribute")
        if any(isinstance(i, Child) for i in comp.content) and _value_based(model, comp):
            raise ModelError(f"{source}:{comp.line}: type {comp.name} extends a value type, so it has no elements")
    if model.root_attribute is not None:
        need(model.root_attribute.type, f"rootattr {model.root_attribute.name}", 0)
    if model.revision is None and any(c.kind == "type" for c in model.complex.values()):
        raise ModelError(f"{source}: no 'revision' type declared for the revision slots")


def _value_based(model: Model, comp: ComplexDef) -> bool:
    """Whether a complex type has simple content: it is a value type or extends one."""
    seen: set[str] = set()
    node: ComplexDef | None = comp
    while node is not None and node.name not in seen:
        if node.kind == "value":
            return True
        seen.add(node.name)
        node = model.complex.get(node.base) if node.base else None
    return False


# -- writing the XSD -----------------------------------------------------------------------------------


def _comment(lines: tuple[str, ...] | list[str], indent: str) -> list[str]:
    """An XML comment holding model comments ('--' cannot appear inside one)."""
    text = [line.replace("--", "- -") for line in lines]
    if not text:
        return []
    if len(text) == 1:
        return [f"{indent}<!-- {text[0]} -->"]
    return [f"{indent}<!--", *(f"{indent}  {line}".rstrip() for line in text), f"{indent}-->"]


def _occurs_attrs(low: int, high: int | None) -> str:
    """minOccurs/maxOccurs, written only when they differ from XSD's default of one."""
    out = ""
    if low != 1:
        out += f' minOccurs="{low}"'
    if high != 1:
        out += f' maxOccurs="{"unbounded" if high is None else high}"'
    return out


def _attribute_xml(attr: Attribute) -> str:
    text = f"<xs:attribute name={quoteattr(attr.name)} type={quoteattr(attr.type)}"
    if attr.required:
        text += ' use="required"'
    if attr.default is not None:
        text += f" default={quoteattr(attr.default)}"
    return text + "/>"


def _content_xml(model: Model, comp: ComplexDef, indent: str) -> list[str]:
    """The sequence (with the revision slot) and attributes of a complex type, at ``indent``."""
    out: list[str] = []
    if not _value_based(model, comp):
        items: list[Child | Wildcard] = list(comp.content)
        if comp.kind == "type" and model.revision is not None:
            # The slot goes after the type's own elements, before a trailing wildcard.
            at = len(items)
            while at and isinstance(items[at - 1], Wildcard):
                at -= 1
            items.insert(at, Child(f"{comp.name}_r2_3", model.revision, 0, 1, None))
        if items:
            out.append(f"{indent}<xs:sequence>")
            for item in items:
                if isinstance(item, Wildcard):
                    out.append(
                        f'{indent}  <xs:any namespace="{item.namespace}" processContents="lax"'
                        f"{_occurs_attrs(item.min_occurs, item.max_occurs)}/>"
                    )
                else:
                    default = "" if item.default is None else f" default={quoteattr(item.default)}"
                    out.append(
                        f"{indent}  <xs:element name={quoteattr(item.name)} type={quoteattr(item.type)}"
                        f"{_occurs_attrs(item.min_occurs, item.max_occurs)}{default}/>"
                    )
            out.append(f"{indent}</xs:sequence>")
    out.extend(f"{indent}{_attribute_xml(attr)}" for attr in comp.attributes)
    out.append(f'{indent}<xs:anyAttribute processContents="lax"/>')
    return out


def _simple_xml(simple: SimpleDef) -> list[str]:
    head = f"  <xs:simpleType name={quoteattr(simple.name)}>"
    if not simple.facets:
        return [f"{head}<xs:restriction base={quoteattr(simple.base)}/></xs:simpleType>"]
    facets = "".join(f"<xs:{_FACETS[key]} value={quoteattr(value)}/>" for key, value in simple.facets)
    return [f"{head}<xs:restriction base={quoteattr(simple.base)}>{facets}</xs:restriction></xs:simpleType>"]


def _complex_xml(model: Model, comp: ComplexDef) -> list[str]:
    out = [f"  <xs:complexType name={quoteattr(comp.name)}>"]
    if comp.kind == "value":
        out += [
            "    <xs:simpleContent>",
            f"      <xs:extension base={quoteattr(str(comp.base))}>",
            '        <xs:anyAttribute processContents="lax"/>',
            "      </xs:extension>",
            "    </xs:simpleContent>",
        ]
    elif comp.base is None:
        out += _content_xml(model, comp, "    ")
    else:
        out += [
            "    <xs:complexContent>",
            f"      <xs:extension base={quoteattr(comp.base)}>",
            *_content_xml(model, comp, "        "),
            "      </xs:extension>",
            "    </xs:complexContent>",
        ]
    out.append("  </xs:complexType>")
    if comp.root:
        # A document's root element: the type, plus the attribute naming the schema version.
        attr = model.root_attribute
        assert attr is not None  # parse_model guarantees it
        out += [
            f"  <xs:element name={quoteattr(comp.name)}>",
            f"    <xs:complexType><xs:complexContent><xs:extension base={quoteattr(comp.name)}>",
            f"      {_attribute_xml(attr)}",
            "    </xs:extension></xs:complexContent></xs:complexType>",
            "  </xs:element>",
        ]
    return out


_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!--
  harness2030_5.xsd: XML Schema of the IEEE 2030.5-2018 resources, for the csip-harness project.

  GENERATED by "python -m harness.sep.schema_build" from harness2030_5.model: edit the model, not
  this file. The facts (names, order, types, occurrences, facets, defaults) are the standard's, so
  documents get the verdict of the official schema; the text is this project's own, and it is NOT
  the IEEE sep.xsd. Users holding a licensed copy of that file can validate against it instead by
  passing its path with the harness's schema option.
-->
"""


def build_xsd(model: Model) -> str:
    """The XSD text for ``model``: deterministic, so the shipped file can be compared with it."""
    lines = [
        _HEADER.rstrip("\n"),
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="{TARGET_NS}"',
        f'           targetNamespace="{TARGET_NS}" elementFormDefault="qualified"',
        f'           attributeFormDefault="unqualified" version="{SCHEMA_VERSION}">',
    ]
    for kind, name in model.order:
        if kind == "section":
            lines += ["", f"  <!-- == {name} == -->"]
            continue
        decl: SimpleDef | ComplexDef = model.simple[name] if name in model.simple else model.complex[name]
        lines += _comment(decl.comments, "  ")
        lines += _simple_xml(decl) if isinstance(decl, SimpleDef) else _complex_xml(model, decl)
    lines.append("</xs:schema>")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the bundled XSD from the model (or, with --check, compare them); exit status 0 or 1."""
    parser = argparse.ArgumentParser(description="Generate harness2030_5.xsd from harness2030_5.model.")
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (default: the bundled one)")
    parser.add_argument("--out", type=Path, default=XSD_PATH, help="XSD to write (default: the bundled one)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if --out differs")
    args = parser.parse_args(argv)
    try:
        text = build_xsd(parse_model(args.model.read_text(encoding="utf-8"), str(args.model)))
    except (OSError, ModelError) as exc:
        print(f"schema_build: {exc}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"schema_build: {args.out} is not the output of {args.model}; run python -m harness.sep.schema_build",
                  file=sys.stderr)
            return 1
        print(f"{args.out} matches {args.model}")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes) from {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
