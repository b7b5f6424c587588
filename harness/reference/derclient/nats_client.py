"""The reference DER client's HTTP seam over NATS: what httpx.AsyncClient does for it, through NatsTransport.

A device whose server address is ``nats://`` or ``tls://HOST:PORT/dcap`` sends every request through
harness.transport.nats.NatsTransport (native request/reply, or DeviceRequest envelopes on the InterSTORE
tunnel; docs/nats-mapping.md), presenting its own certificate on NATS TLS, and gets back an httpx.Response, so
the walk, polling and posting code is the same as over HTTPS. With encoding "json" its bodies travel in
CUPID's JSON (application/sep+json, harness.codec.cupid_json): written from the XML it builds, read back as
XML before the device parses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from lxml import etree

from harness.codec.cupid_json import MEDIA_TYPE_JSON, dumps, json_to_xml, xml_to_json
from harness.sep import MEDIA_TYPE_XML
from harness.sep.safexml import XMLRejected, parse_xml
from harness.transport.base import Request
from harness.transport.nats import NatsMapping, NatsTransport

NATS_SCHEMES = ("nats", "tls")
CLOSE_WAIT_S = 1.0


def is_nats_url(url: str) -> bool:
    """Whether a server address is a NATS server's (nats:// or tls://)."""
    return urlsplit(url).scheme.lower() in NATS_SCHEMES


class NatsHttpClient:
    """request()/aclose() as the device uses httpx.AsyncClient's, carried over NATS.

    origin: ``nats://`` or ``tls://HOST:PORT``; mapping: "native" or "interstore"; ssl_context: the device's
    NATS TLS client context (None on plain NATS); lfdi/sfdi: the device's (the native subject, the envelope);
    encoding: "xml" or "json" (then structure is the schema's, SchemaSet.structure()). A request that gets no
    answer raises httpx.TransportError with the transport's message, which names the subject.
    """

    def __init__(self, origin: str, mapping: str, ssl_context: ssl.SSLContext | None, lfdi: str, sfdi: str, *,
                 timeout: float, encoding: str = "xml", structure: Any = None) -> None:
        self.origin = origin.rstrip("/")
        self.encoding = encoding
        self.structure = structure
        self.media_type = MEDIA_TYPE_JSON if encoding == "json" else MEDIA_TYPE_XML
        self.transport = NatsTransport(self.origin, NatsMapping(mapping), ssl_context=ssl_context, lfdi=lfdi.lower(),
                                       sfdi=str(sfdi), timeout=timeout, connect_timeout=timeout)

    def _url(self, href: str, params: dict[str, int] | None) -> str:
        url = self.origin + href if href.startswith("/") else href
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        return url

    def _outgoing(self, body: bytes) -> bytes:
        if self.encoding != "json" or not body:
            return body
        return dumps(xml_to_json(parse_xml(body), self.structure).result)

    def _incoming(self, headers: list[tuple[str, str]], body: bytes) -> tuple[list[tuple[str, str]], bytes]:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if not body or content_type.split(";", 1)[0].strip().lower() != MEDIA_TYPE_JSON:
            return headers, body
        conversion = json_to_xml(body, self.structure)
        if conversion.result is None:
            return headers, body  # the device's parse says what is wrong with it
        xml = etree.tostring(conversion.result, encoding="UTF-8")
        return [(k, MEDIA_TYPE_XML if k.lower() == "content-type" else v) for k, v in headers], xml

    async def request(self, method: str, href: str, *, content: bytes | None = None,
                      headers: dict[str, str] | None = None, params: dict[str, int] | None = None) -> httpx.Response:
        """One exchange; httpx.TransportError when NATS carried no usable answer (timeout, no responders...)."""
        sent = {"Accept": self.media_type}
        for key, value in (headers or {}).items():
            sent[key] = self.media_type if key.lower() == "content-type" else value
        try:
            body = self._outgoing(content or b"")
        except XMLRejected as exc:
            raise httpx.TransportError(f"cannot write the body as {self.media_type}: {exc}") from None
        exchange = await self.transport.exchange(Request(method, self._url(href, params), list(sent.items()), body))
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # nats-py turns a cancellation inside a request into one of its errors (the transport reports it as
            # an exchange error): a device being stopped must stop, not back off and retry.
            raise asyncio.CancelledError
        if exchange.response is None or exchange.error:
            raise httpx.TransportError(exchange.error or "no answer over NATS")
        response_headers, response_body = self._incoming(list(exchange.response.headers), exchange.response.body)
        return httpx.Response(exchange.response.status, headers=response_headers, content=response_body)

    async def aclose(self) -> None:
        """Close the NATS connection, waiting at most CLOSE_WAIT_S for it.

        Closing a TLS connection waits for the peer's close_notify (asyncio allows it 30 s); a power cycle must
        not wait that long, and the device makes a new connection anyway.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.transport.aclose(), CLOSE_WAIT_S)
