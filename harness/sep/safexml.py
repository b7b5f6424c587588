"""Hardened XML parsing: no DTDs, no entities, no network, bounded size, UTF-8 only."""

from __future__ import annotations

import re
import threading

from lxml import etree

DEFAULT_MAX_BYTES = 1_048_576

# A 2030.5 resource never needs a DTD; refusing any declaration closes off entity expansion
# and external entity reads before lxml sees the document.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class XMLRejected(ValueError):
    """A body the harness refuses to treat as an IEEE 2030.5 XML resource."""


class UnsafeXMLError(XMLRejected):
    """The body declares a DTD or entities."""


class XMLTooLargeError(XMLRejected):
    """The body exceeds the size limit."""


class XMLEncodingError(XMLRejected):
    """The body is not valid UTF-8 or declares another encoding."""


class XMLSyntaxError(XMLRejected):
    """The body is not well-formed XML."""


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread: building one costs as much as parsing a small resource, and lxml
    # parsers may be reused within a thread but not shared between threads.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )


def parse_xml(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse a 2030.5 XML body safely and return its root element, or raise XMLRejected."""
    if len(data) > max_bytes:
        raise XMLTooLargeError(f"expected an XML body of at most {max_bytes} bytes, saw {len(data)} bytes")
    if not data or data.isspace():
        raise XMLSyntaxError("expected an XML document, saw an empty body")
    # A DTD and every declaration in it can only come before the root element. A body whose root opens at
    # byte 0 has no prolog, so nothing to look for (a "<!DOCTYPE" in content is not well-formed and libxml2
    # refuses it); otherwise look for the rare "!" (a memchr) before running the regex.
    if data.startswith(b"<") and not data.startswith((b"<!", b"<?")):
        match = None
    else:
        match = _DECLARATION.search(data) if b"!" in data else None
    if match:
        kind = match.group(1).decode("ascii").upper()
        raise UnsafeXMLError(
            f"expected no DTD or entity declarations (refused for safety: a 2030.5 resource needs none), "
            f"saw <!{kind} at byte {match.start()}"
        )
    # An encoding can only be declared in the XML declaration, which XML allows only at the very start.
    declared = _XML_DECL_ENCODING.match(data) if data.startswith(b"<?xml") else None
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise XMLEncodingError(f"expected UTF-8 (IEEE 2030.5 XML is UTF-8), "
                               f"saw encoding=\"{declared.group(1).decode('ascii')}\"")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XMLEncodingError(f"expected UTF-8 (IEEE 2030.5 XML is UTF-8), saw an invalid byte at offset {exc.start}"
                               ) from None
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XMLSyntaxError(f"expected well-formed XML, saw: {exc}") from None
    if root is None:
        raise XMLSyntaxError("expected an XML document, saw no root element")
    return root


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname
