"""The test server over NATS: the native responder and the InterSTORE tunnel's cloud side (docs/nats-mapping.md).

In the client role the DUT (a DER, a gateway) sends its 2030.5 requests over NATS instead of HTTPS. This front
end subscribes the test server to the request subjects of both mappings on one NATS server and hands every
request to the same handler the HTTPS front end uses (TestServer.handle: one tree, one log), so a client case
judges the same requests whichever way they came:

- native: ``ieee2030.server.*`` (the template with ``{lfdi}`` as a wildcard); method and path in the
  ``Sep-Method``/``Sep-Path`` headers, the body as payload; the answer on the request's reply subject with
  ``Sep-Status`` and the response headers. The client's LFDI is the subject's token, which a NATS server with
  certificate-mapped users (``verify_and_map``, one publish subject per user) makes the LFDI of the client's
  NATS TLS certificate.
- tunnel: DeviceRequest envelopes on ``ieee2030.requests``; the answer is a raw HTTP/1.1 response message on
  ``ieee2030.responses.<correlationId>``. The client's LFDI is the envelope's (the proxy's identity).

CUPID's JSON (application/sep+json) bodies are read as the XML they stand for before the handler sees them,
and an answer goes back as JSON when the request accepts it (harness.codec.cupid_json).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from nats.aio.msg import Msg

from harness.codec.cupid_json import MEDIA_TYPE_JSON, dumps, json_to_xml, xml_to_json
from harness.sep import MEDIA_TYPE_XML
from harness.sep.findings import Finding
from harness.sep.safexml import XMLRejected, parse_xml
from harness.server.http import HttpRequest, HttpResponse, split_target, with_date
from harness.transport.nats_serve import NatsServerFront, media_type, retyped
from harness.transport.nats_wire import (
    METHOD,
    NATIVE_SUBJECT,
    NATS_OWN_HEADERS,
    PATH,
    STATUS,
    TUNNEL_REQUESTS,
    TUNNEL_RESPONSES,
    WireError,
    build_http_response,
    parse_envelope,
)

log = logging.getLogger(__name__)


class _QuietTlsEof(logging.Filter):
    """asyncio warns on every NATS TLS connection nats-py closes ("returning true from eof_received() has no
    effect when using ssl"): noise on the terminal of a run that did nothing wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietTlsEof())
SUBJECT = "subject"  # identity source: the native request subject's LFDI token
ENVELOPE = "envelope"  # identity source: the tunnel envelope's lfdi


@dataclass
class NatsClientRequest(HttpRequest):
    """A request that came over NATS: no TLS peer certificate, the client's LFDI as the mapping gives it.

    peer_lfdi: 40 hex digits or None; identity_source: SUBJECT or ENVELOPE; subject: where it came in.
    encoding/json_findings: set by the front end when the body came in CUPID's JSON.
    """

    peer_lfdi: str | None = None
    identity_source: str = ""
    subject: str = ""
    encoding: str = "xml"  # "json": the body came in CUPID's JSON and is now the XML it stands for
    json_findings: list[Finding] = field(default_factory=list)  # what the JSON -> XML conversion found


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def subject_lfdi(template: str, subject: str) -> str | None:
    """The token of subject standing where template has ``{lfdi}`` (lower-case), or None."""
    parts = template.split(".")
    if "{lfdi}" not in parts:
        return None
    tokens = subject.split(".")
    index = parts.index("{lfdi}")
    return tokens[index].lower() if len(tokens) == len(parts) else None


class NatsResponder(NatsServerFront):
    """Subscribes a request handler to the native and tunnel request subjects of one NATS server.

    server: ``nats://`` or ``tls://HOST:PORT``; ssl_context: the test server's NATS TLS client certificate;
    native_subject/tunnel_requests: None serves only the other mapping; structure: the schema's
    (SchemaSet.structure()) for CUPID JSON. start() raises OSError/nats errors when NATS cannot be reached.
    """

    client_name = "csip-harness-test-server"

    def __init__(self, handler: Handler, server: str, *, ssl_context: ssl.SSLContext | None = None,
                 native_subject: str | None = NATIVE_SUBJECT, tunnel_requests: str | None = TUNNEL_REQUESTS,
                 tunnel_responses: str = TUNNEL_RESPONSES, structure: Any = None) -> None:
        super().__init__(server, ssl_context=ssl_context, native_subject=native_subject,
                         tunnel_requests=tunnel_requests, tunnel_responses=tunnel_responses)
        self.handler = handler
        self.structure = structure

    async def _native(self, msg: Msg) -> None:
        headers = dict(msg.headers or {})
        method, target = headers.get(METHOD), headers.get(PATH)
        if not msg.reply:
            return  # nowhere to answer: a publish without a reply subject is not a request
        if not method or not target:
            await self._nc.publish(msg.reply, b"", headers={STATUS: "400"})
            return
        path, query = split_target(target)
        request = NatsClientRequest(
            method=method, target=target, path=path, query=query,
            headers=[(k, v) for k, v in headers.items() if k.lower() not in NATS_OWN_HEADERS], body=msg.data,
            peer_cert_der=None, scheme="nats", http_version="NATS/1.0",
            peer_lfdi=subject_lfdi(self.native_subject or "", msg.subject), identity_source=SUBJECT,
            subject=msg.subject)
        response = await self._handle(request)
        out = {STATUS: str(response.status)}
        out.update(dict(with_date(list(response.headers))))
        await self._nc.publish(msg.reply, response.body, headers=out)

    async def _tunnel(self, msg: Msg) -> None:
        try:
            envelope = parse_envelope(msg.data)
        except WireError as exc:
            # No correlation id to answer on: the device times out, and the log says why.
            log.warning("tunnel request on %s not answered: %s", msg.subject, exc)
            return
        path, query = split_target(envelope.path)
        request = NatsClientRequest(
            method=envelope.method, target=envelope.path, path=path, query=query, headers=envelope.headers,
            body=envelope.body, peer_cert_der=None, scheme="nats", http_version=envelope.version,
            peer_lfdi=envelope.lfdi.lower() or None, identity_source=ENVELOPE, subject=msg.subject)
        response = await self._handle(request)
        message = build_http_response(response.status, with_date(list(response.headers)), response.body)
        await self._nc.publish(f"{self.tunnel_responses}.{envelope.correlation_id}", message)

    async def _handle(self, request: NatsClientRequest) -> HttpResponse:
        """The handler, with CUPID JSON bodies read as XML and answers written as JSON when accepted."""
        if media_type(request.header("Content-Type")) == MEDIA_TYPE_JSON and request.body and self.structure:
            # The handler and the log see the XML the JSON stands for (so the cases judge it like any XML body,
            # and a case's content_type application/sep+xml is met by application/sep+json, as in the server
            # role), with encoding "json" and the conversion's findings (pre-2018 names, lossy members) beside it.
            conversion = json_to_xml(request.body, self.structure)
            request.encoding = "json"
            request.json_findings = list(conversion.findings)
            if conversion.result is not None:
                request.body = etree.tostring(conversion.result, encoding="UTF-8")
                request.headers = retyped(request.headers, MEDIA_TYPE_XML)
        response = await self.handler(request)
        content_type = media_type(next((v for k, v in response.headers if k.lower() == "content-type"), None))
        if self.structure and MEDIA_TYPE_JSON in (request.header("Accept") or "") and content_type == MEDIA_TYPE_XML:
            try:
                conversion = xml_to_json(parse_xml(response.body), self.structure)
            except XMLRejected:
                return response
            return HttpResponse(response.status, retyped(response.headers, MEDIA_TYPE_JSON), dumps(conversion.result))
        return response
