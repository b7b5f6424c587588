"""The tunnel's envelope and raw HTTP messages, both directions, including what breaks InterSTORE's proxy."""

from __future__ import annotations

import pytest

from harness.transport.nats_wire import (
    TunnelRequest,
    WireError,
    build_envelope,
    build_http_response,
    parse_envelope,
    parse_http_response,
)


def test_an_xml_body_travels_in_cdata_and_comes_back_whole_even_with_a_cdata_end_inside() -> None:
    body = b'<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>1</sFDI></EndDevice><!-- ]]> -->'
    request = TunnelRequest("1-2-3", "POST", "/edev", [("Content-Type", "application/sep+xml")], body,
                            content_type="application/sep+xml", lfdi="ab" * 20, sfdi="123")
    envelope = build_envelope(request)
    assert b'<body encoding="xml"><![CDATA[' in envelope and b"<correlationId>1-2-3</correlationId>" in envelope
    back = parse_envelope(envelope)
    assert (back.method, back.path, back.body, back.lfdi, back.headers) == (
        "POST", "/edev", body, "ab" * 20, [("Content-Type", "application/sep+xml")])


def test_other_bodies_travel_in_base64() -> None:
    body = b'{"endDevice": {"changedTime": 1}}'
    envelope = build_envelope(TunnelRequest("9", "PUT", "/edev/1", [], body, content_type="application/sep+json"))
    assert b'<body encoding="base64">' in envelope
    assert parse_envelope(envelope).body == body


@pytest.mark.parametrize(("data", "fragment"), [
    (b"not xml", "do not parse"), (b"<DeviceRequest/>", "expected a DeviceRequest envelope"),
    (b'<DeviceRequest xmlns="urn:ieee:std:2030.5:ns"><correlationId>1</correlationId></DeviceRequest>',
     "<httpRequest>"),
])
def test_malformed_envelopes_say_what_is_missing(data: bytes, fragment: str) -> None:
    with pytest.raises(WireError, match=fragment):
        parse_envelope(data)


def test_http_messages_round_trip_and_malformed_ones_are_named() -> None:
    message = build_http_response(201, [("Location", "/edev/4")], b"")
    assert message == b"HTTP/1.1 201 Created\r\nLocation: /edev/4\r\nContent-Length: 0\r\n\r\n"
    assert parse_http_response(message) == ("HTTP/1.1", 201, [("Location", "/edev/4"), ("Content-Length", "0")], b"")
    for bad, fragment in [(b"<html/>", "status line"), (b"HTTP/1.1 OK\r\n\r\n", "status line"),
                          (b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "header line"),
                          (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", "Content-Length")]:
        with pytest.raises(WireError, match=fragment):
            parse_http_response(bad)
