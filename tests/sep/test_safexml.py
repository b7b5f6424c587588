"""Hardened parsing: declarations, entities, size, encodings, syntax — each refused with a clear error."""

from __future__ import annotations

import pytest

from harness.sep.safexml import (
    UnsafeXMLError,
    XMLEncodingError,
    XMLSyntaxError,
    XMLTooLargeError,
    local_name,
    parse_xml,
)

TIME = b'<Time xmlns="urn:ieee:std:2030.5:ns" href="/tm"><currentTime>1</currentTime></Time>'


def test_plain_document_parses() -> None:
    root = parse_xml(TIME)
    assert local_name(root) == "Time"
    assert root.sourceline == 1


@pytest.mark.parametrize("declaration", [b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-8"?>'])
def test_utf8_declarations_are_accepted(declaration: bytes) -> None:
    assert local_name(parse_xml(declaration + TIME)) == "Time"


def test_other_declared_encoding_is_refused() -> None:
    utf8_only = r'expected UTF-8 \(IEEE 2030.5 XML is UTF-8\), saw encoding="ISO-8859-1"'
    with pytest.raises(XMLEncodingError, match=utf8_only):
        parse_xml(b'<?xml version="1.0" encoding="ISO-8859-1"?>' + TIME)


def test_invalid_utf8_is_refused_with_the_offset() -> None:
    with pytest.raises(XMLEncodingError, match="offset 52"):
        parse_xml(TIME[:52] + b"\xff\xfe" + TIME[52:])


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Time>&x;</Time>',
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Time>&lol2;</Time>',
        b"<!DOCTYPE Time><Time/>",
        b'<?xml version="1.0"?>\n<!doctype Time SYSTEM "http://127.0.0.1:9/x.dtd"><Time/>',
    ],
)
def test_any_dtd_or_entity_declaration_is_refused(body: bytes) -> None:
    with pytest.raises(UnsafeXMLError, match="expected no DTD or entity declarations"):
        parse_xml(body)


def test_size_limit() -> None:
    with pytest.raises(XMLTooLargeError, match="at most 100 bytes, saw"):
        parse_xml(TIME + b" " * 100, max_bytes=100)


@pytest.mark.parametrize("body", [b"", b"   ", b"<Time><currentTime>1</Time>", b"not xml at all", TIME[:40]])
def test_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(XMLSyntaxError):
        parse_xml(body)
