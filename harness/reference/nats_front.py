"""The reference server's NATS front end: native request/reply and the InterSTORE tunnel (docs/nats-mapping.md).

Like the HTTPS front end, it hands every request to ReferenceApp.handle and sends back what comes out; only
the carriage differs. The client's identity: in the native mapping the LFDI token of the request subject
(``ieee2030.server.<lfdi>``), which a NATS server with certificate-mapped users and per-user publish
permissions makes the LFDI of the client's TLS certificate; in the tunnel, the envelope's ``lfdi`` (the
proxy's identity, standing for every device behind it).

Defects (harness.reference.defects): ``tunnel-success-200``, ``tunnel-errors-500`` and ``tunnel-drops-body``
behave as InterSTORE's cloud side does; ``nats-silent``, ``nats-wrong-subject``, ``nats-malformed-reply`` and
``nats-flood`` misbehave on the wire in both mappings.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any

from lxml import etree
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from harness.codec.cupid_json import MEDIA_TYPE_JSON, dumps, json_to_xml, xml_to_json
from harness.reference.app import ReferenceApp
from harness.reference.defects import Defects
from harness.sep import MEDIA_TYPE_XML
from harness.sep.safexml import parse_xml
from harness.server.http import HttpRequest, HttpResponse, split_target, with_date
from harness.transport.nats_serve import NatsServerFront, media_type, retyped
from harness.transport.nats_wire import (
    JETSTREAM_STREAM,
    METHOD,
    NATIVE_SUBJECT,
    NATS_OWN_HEADERS,
    PATH,
    REPLY,
    STATUS,
    TUNNEL_REQUESTS,
    TUNNEL_RESPONSES,
    WireError,
    build_http_response,
    parse_envelope,
)

log = logging.getLogger(__name__)
FLOOD_COPIES = 20


@dataclass
class NatsRequest(HttpRequest):
    """A request that came over NATS: the client's LFDI as the mapping gives it (no TLS peer certificate)."""

    peer_lfdi: str | None = None
    identity_source: str = ""


class NatsFrontEnd(NatsServerFront):
    """Subscribes the reference server to its request subjects on one NATS server.

    ``native_subject`` is the native template (``{lfdi}`` becomes a ``*`` wildcard, the token read back as
    the client's LFDI); ``tunnel_requests``/``tunnel_responses`` the tunnel's subjects; either may be None
    to serve only the other mapping.
    """

    client_name = "csip-reference-server"

    def __init__(self, app: ReferenceApp, defects: Defects, server: str, *, ssl_context: ssl.SSLContext | None = None,
                 native_subject: str | None = NATIVE_SUBJECT, tunnel_requests: str | None = TUNNEL_REQUESTS,
                 tunnel_responses: str = TUNNEL_RESPONSES, jetstream: bool = False) -> None:
        super().__init__(server, ssl_context=ssl_context, native_subject=native_subject,
                         tunnel_requests=tunnel_requests, tunnel_responses=tunnel_responses)
        self.app = app
        self.defects = defects
        self.jetstream = jetstream

    async def _subscribe_native(self, wildcard: str) -> None:
        if self.jetstream:
            await self._subscribe_stored(wildcard)
        else:
            await super()._subscribe_native(wildcard)

    @property
    def connection(self) -> Any:
        """The NATS connection (start() first): Notifications go out on it too (harness.reference.nats_notify)."""
        return self._nc

    async def _subscribe_stored(self, wildcard: str) -> None:
        """Requests from JetStream: the stream keeps them while this server is away, and a durable consumer
        hands over the backlog when it is back (defect jetstream-drops-backlog: only what comes after)."""
        js = self._nc.jetstream()
        await js.add_stream(name=JETSTREAM_STREAM, subjects=[wildcard.rsplit(".", 1)[0] + ".>"])
        if "jetstream-drops-backlog" in self.defects:
            await js.subscribe(wildcard, cb=self._requests.spawn(self._stored), manual_ack=True,
                               deliver_policy=DeliverPolicy.NEW)
        else:
            await js.subscribe(wildcard, durable="csip-reference", cb=self._requests.spawn(self._stored),
                               manual_ack=True)

    async def _stored(self, msg: Msg) -> None:
        """A request from the stream: answered on its Sep-Reply subject, then acknowledged."""
        reply = (msg.headers or {}).get(REPLY)
        await self._native(msg, reply)
        await msg.ack()

    def _lfdi_of(self, subject: str) -> str | None:
        if not self.native_subject or "{lfdi}" not in self.native_subject:
            return None
        index = self.native_subject.split(".").index("{lfdi}") if "{lfdi}" in self.native_subject.split(".") else -1
        tokens = subject.split(".")
        return tokens[index].lower() if 0 <= index < len(tokens) else None

    async def _answer(self, subject: str | None, payload: bytes, headers: dict[str, str] | None = None) -> None:
        if not subject or "nats-silent" in self.defects:
            return
        if "nats-wrong-subject" in self.defects:
            subject = subject + ".elsewhere"
        copies = FLOOD_COPIES if "nats-flood" in self.defects else 1
        for _ in range(copies):
            await self._nc.publish(subject, payload, headers=headers)

    async def _native(self, msg: Msg, reply: str | None = None) -> None:
        headers = dict(msg.headers or {})
        reply = reply or msg.reply
        method, target = headers.get(METHOD), headers.get(PATH)
        if not method or not target:
            await self._answer(reply, b"", {STATUS: "400"})
            return
        path, query = split_target(target)
        request = NatsRequest(method=method, target=target, path=path, query=query,
                              headers=[(k, v) for k, v in headers.items() if k.lower() not in NATS_OWN_HEADERS],
                              body=msg.data, peer_cert_der=None, scheme="nats", http_version="NATS/1.0",
                              peer_lfdi=self._lfdi_of(msg.subject), identity_source="subject")
        response = await self._handle(request)
        if "nats-malformed-reply" in self.defects:
            await self._answer(reply, response.body, {"Content-Type": "application/sep+xml"})
            return
        out = {STATUS: str(response.status)}
        for key, value in with_date(response.headers, send_date="no-date-header" not in self.defects):
            out[key] = value
        await self._answer(reply, response.body, out)

    async def _tunnel(self, msg: Msg) -> None:
        try:
            envelope = parse_envelope(msg.data)
        except WireError as exc:
            log.warning("tunnel request on %s dropped: %s", msg.subject, exc)
            return  # no correlation id to answer on: the proxy times out, as InterSTORE's would
        reply = f"{self.tunnel_responses}.{envelope.correlation_id}"
        if envelope.method not in ("GET", "POST", "PUT", "DELETE") and "tunnel-success-200" in self.defects:
            await self._answer(reply, b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        body = b"" if "tunnel-drops-body" in self.defects else envelope.body
        path, query = split_target(envelope.path)
        request = NatsRequest(method=envelope.method, target=envelope.path, path=path, query=query,
                              headers=envelope.headers, body=body, peer_cert_der=None, scheme="nats",
                              http_version=envelope.version, peer_lfdi=envelope.lfdi.lower() or None,
                              identity_source="envelope")
        response = await self._handle(request)
        if "nats-malformed-reply" in self.defects:
            await self._answer(reply, b"<html>gateway says no</html>")
            return
        await self._answer(reply, self._tunnel_message(response))

    async def _handle(self, request: NatsRequest) -> HttpResponse:
        """ReferenceApp.handle, with CUPID's JSON (application/sep+json) read and written around it."""
        if media_type(request.header("Content-Type")) == MEDIA_TYPE_JSON and request.body:
            conversion = json_to_xml(request.body, self.app.schema.structure())
            if conversion.result is None or conversion.failures:
                return self.app.bad_request(0)
            request.body = etree.tostring(conversion.result, encoding="UTF-8")
            request.headers = retyped(request.headers, MEDIA_TYPE_XML)
        response = await self.app.handle(request)
        if MEDIA_TYPE_JSON in (request.header("Accept") or "") and media_type(
                dict((k.lower(), v) for k, v in response.headers).get("content-type")) == MEDIA_TYPE_XML:
            root = parse_xml(response.body)
            body = dumps(xml_to_json(root, self.app.schema.structure()).result)
            return HttpResponse(response.status, retyped(response.headers, MEDIA_TYPE_JSON), body)
        return response

    def _tunnel_message(self, response: HttpResponse) -> bytes:
        status, body = response.status, response.body
        headers = with_date(list(response.headers), send_date="no-date-header" not in self.defects)
        if status >= 400 and "tunnel-errors-500" in self.defects:
            return b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
        if status < 300 and "tunnel-success-200" in self.defects:
            # The InterSTORE cloud side: the backend's body under 200 OK and Content-Type: application/sep+xml.
            return build_http_response(200, [("Content-Type", "application/sep+xml")], body)
        return build_http_response(status, headers, body)
