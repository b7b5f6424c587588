"""The engine's seams: a transport chosen by the DUT address's scheme (a plugin adds one), the request as
method + path + headers + body, and the body codec by media type."""

from __future__ import annotations

import pytest

from harness.hookspecs import hookimpl, plugin_manager
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.codec import XML, codec_for
from harness.sep.safexml import XMLRejected
from harness.transport.base import Exchange, Request
from harness.transport.http import HttpTransport
from harness.transport.registry import UnknownSchemeError, transport_for


class LoopbackTransport:
    """A transport of a made-up scheme that answers every request itself, as a plugin's would."""

    name = "loop"

    def __init__(self, tls_context: object, **options: object) -> None:
        self.options = options

    async def exchange(self, request: Request) -> Exchange:
        return Exchange(request=request, transport=self.name)

    async def aclose(self) -> None:
        return None


class LoopPlugin:
    @hookimpl
    def csip_transport(self, scheme: str) -> object:
        return LoopbackTransport if scheme == "loop" else None


async def test_https_and_http_get_the_http_transport() -> None:
    transport = transport_for("https://127.0.0.1:1", None, plugin_manager(), allowed_origins=["https://127.0.0.1:1"])
    assert isinstance(transport, HttpTransport)
    await transport.aclose()


def test_a_plugin_carries_its_own_scheme_and_an_unknown_one_is_named() -> None:
    plugins = plugin_manager()
    plugins.register(LoopPlugin())
    transport = transport_for("loop://device-7", None, plugins, max_body=10)
    assert isinstance(transport, LoopbackTransport) and transport.options == {"max_body": 10}
    with pytest.raises(UnknownSchemeError, match=r"http, https, nats, tls.*'mqtt://x'"):
        transport_for("mqtt://x", None, plugin_manager())


def test_a_request_is_method_path_headers_body_on_any_address() -> None:
    request = Request.to("https://dut:8443/", "PUT", "/edev/1?s=0", [("Content-Type", MEDIA_TYPE_XML)], b"<x/>")
    assert request.url == "https://dut:8443/edev/1?s=0" and request.path == "/edev/1?s=0"
    assert Request("GET", "loop://device-7").path == "/"


def test_the_xml_codec_reads_writes_and_refuses_hostile_bodies() -> None:
    codec = codec_for("application/sep+xml; charset=utf-8")
    assert codec is XML and codec_for("application/json") is None
    root = codec.parse(f'<Time xmlns="{NS}"><currentTime>1</currentTime></Time>'.encode())
    assert codec.serialize(root).startswith(b"<?xml") and b"currentTime" in codec.serialize(root)
    with pytest.raises(XMLRejected):
        codec.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
