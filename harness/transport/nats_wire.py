"""What 2030.5-over-NATS messages look like, in both mappings (docs/nats-mapping.md), for both sides.

**Native**: one NATS request/reply per 2030.5 exchange. The request goes to the request subject (default
``ieee2030.server.<lFDI of the client>``) with the method, path and query in NATS headers ``Sep-Method`` and
``Sep-Path``, the HTTP request headers (Accept, Content-Type, ...) as NATS headers of the same name, the body
as the payload; the answer goes to the requester's reply inbox with ``Sep-Status`` (the HTTP status code),
the response headers (Content-Type, Location, Allow, ...) as NATS headers, the body as the payload.

**InterSTORE tunnel**: the request is published on ``ieee2030.requests`` as the ``DeviceRequest`` XML
envelope the InterSTORE device proxy writes; the answer is a raw HTTP/1.1 response message published on
``ieee2030.responses.<correlationId>``.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import threading
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

from harness.sep.safexml import XMLRejected, parse_xml

METHOD = "Sep-Method"
PATH = "Sep-Path"
STATUS = "Sep-Status"
# JetStream (native mapping): a stored request carries where to answer in this header, as a stream keeps no
# reply subject; the server side owns the stream that stores the requests.
REPLY = "Sep-Reply"
JETSTREAM_STREAM = "SEP_REQUESTS"
NATIVE_SUBJECT = "ieee2030.server.{lfdi}"
TUNNEL_REQUESTS = "ieee2030.requests"
TUNNEL_RESPONSES = "ieee2030.responses"
# Notifications over NATS: a notificationURI nats://HOST:PORT/<path> (or tls://) names the subject
# NOTIFY_PREFIX + the path's segments; the subscriber owns NOTIFY_STREAM, the JetStream stream that keeps them.
NOTIFY_PREFIX = "ieee2030.notifications"
NOTIFY_STREAM = "SEP_NOTIFICATIONS"
# NATS headers the server or client library set, never HTTP headers of the exchange.
NATS_OWN_HEADERS = frozenset({"status", "description", "nats-msg-id", "sep-reply", METHOD.lower(), PATH.lower(),
                              STATUS.lower()})
_ENVELOPE_NS = "urn:ieee:std:2030.5:ns"
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            406: "Not Acceptable", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}


class WireError(ValueError):
    """A message that does not follow the mapping: the message says what was expected and what was seen."""


def reason_phrase(status: int) -> str:
    """The usual reason phrase of an HTTP status code (``"OK"`` for 200), or ``"Status"``."""
    return _REASONS.get(status, "Status")


def notification_subject(path: str, prefix: str = NOTIFY_PREFIX) -> str:
    """The subject of a notificationURI's path: ``/ntfy/CORE-018/fsa`` -> ``ieee2030.notifications.ntfy.CORE-018.fsa``.

    Each path segment is one subject token; the characters a token cannot hold (``.``, ``*``, ``>``, spaces)
    are percent-encoded. Raises WireError for a path with no segment.
    """
    segments = [segment for segment in path.split("?", 1)[0].split("/") if segment]
    if not segments:
        raise WireError(f"expected a notificationURI with a path (nats://HOST:PORT/PATH), saw path {path!r}")
    tokens = [re.sub(r"[.*>\s%]", lambda m: f"%{ord(m.group()):02X}", segment) for segment in segments]
    return ".".join([prefix, *tokens])


# --- InterSTORE tunnel: the DeviceRequest envelope ----------------------------------------------------------

_counter = itertools.count()


def correlation_id() -> str:
    """A new correlation id in the proxy's form: ``<µs since epoch>-<thread>-<counter>``."""
    return f"{time.time_ns() // 1000}-{threading.get_ident() % 10**15}-{os.getpid() % 10000}{next(_counter)}"


def _cdata(text: str) -> str:
    # A "]]>" inside would end the section: split it across two sections (the InterSTORE proxy does not).
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass(frozen=True)
class TunnelRequest:
    """One request as the tunnel carries it (the fields of DeviceRequest); lfdi/sfdi are the proxy's."""

    correlation_id: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str = ""
    lfdi: str = ""
    sfdi: str = ""
    client_ip: str = "127.0.0.1"
    timestamp_ms: int = 0
    version: str = "HTTP/1.1"


def build_envelope(request: TunnelRequest) -> bytes:
    """The DeviceRequest XML envelope: text fields escaped, headers in CDATA, the body in CDATA when its
    content type contains "xml", otherwise base64 (also for an empty body)."""
    header_text = "".join(f"{k}: {v}\r\n" for k, v in request.headers)
    if "xml" in request.content_type.lower():
        body = f'<body encoding="xml">{_cdata(request.body.decode("utf-8", "replace"))}</body>'
    else:
        body = f'<body encoding="base64">{base64.b64encode(request.body).decode()}</body>'
    stamp = request.timestamp_ms or time.time_ns() // 1_000_000
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<DeviceRequest xmlns="{_ENVELOPE_NS}">\n'
        f"  <correlationId>{escape(request.correlation_id)}</correlationId>\n"
        f"  <timestamp>{stamp}</timestamp>\n"
        f"  <clientIP>{escape(request.client_ip)}</clientIP>\n"
        f"  <lfdi>{escape(request.lfdi)}</lfdi>\n"
        f"  <sfdi>{escape(request.sfdi)}</sfdi>\n"
        "  <httpRequest>\n"
        f"    <method>{escape(request.method)}</method>\n"
        f"    <path>{escape(request.path)}</path>\n"
        f"    <version>{escape(request.version)}</version>\n"
        f"    <contentType>{escape(request.content_type)}</contentType>\n"
        f"    <headers>{_cdata(header_text)}</headers>\n"
        f"    {body}\n"
        "  </httpRequest>\n"
        "</DeviceRequest>\n"
    ).encode()


def parse_envelope(data: bytes) -> TunnelRequest:
    """A DeviceRequest envelope read back; raises WireError naming what is missing or malformed."""
    try:
        root = parse_xml(data)
    except XMLRejected as exc:
        raise WireError(f"expected a DeviceRequest XML envelope, saw bytes that do not parse: {exc}") from None
    if root.tag != f"{{{_ENVELOPE_NS}}}DeviceRequest":
        raise WireError(f"expected a DeviceRequest envelope in {_ENVELOPE_NS}, saw {root.tag}")

    def text(parent: object, name: str, required: bool = True) -> str:
        node = parent.find(f"{{{_ENVELOPE_NS}}}{name}")  # type: ignore[attr-defined]
        if node is None:
            if required:
                raise WireError(f"DeviceRequest: expected a <{name}> element, saw none")
            return ""
        return node.text or ""

    http = root.find(f"{{{_ENVELOPE_NS}}}httpRequest")
    if http is None:
        raise WireError("DeviceRequest: expected an <httpRequest> element, saw none")
    headers = []
    for line in text(http, "headers", False).splitlines():
        if line.strip():
            name, sep, value = line.partition(":")
            if not sep:
                raise WireError(f"DeviceRequest headers: expected 'Name: value' lines, saw {line!r}")
            headers.append((name.strip(), value.strip()))
    body_node = http.find(f"{{{_ENVELOPE_NS}}}body")
    body = b""
    if body_node is not None:
        encoding = body_node.get("encoding", "xml")
        raw = body_node.text or ""
        if encoding == "base64":
            try:
                body = base64.b64decode(raw, validate=True)
            except ValueError:
                raise WireError("DeviceRequest body: encoding=\"base64\" but the text is not base64") from None
        else:
            body = raw.encode()
    method = text(http, "method")
    path = text(http, "path")
    if not method or not path:
        raise WireError(f"DeviceRequest: expected a method and a path, saw {method!r} and {path!r}")
    return TunnelRequest(correlation_id=text(root, "correlationId"), method=method, path=path, headers=headers,
                         body=body, content_type=text(http, "contentType", False), lfdi=text(root, "lfdi", False),
                         sfdi=text(root, "sfdi", False), client_ip=text(root, "clientIP", False),
                         version=text(http, "version", False) or "HTTP/1.1")


# --- raw HTTP/1.1 response messages (the tunnel's answers) --------------------------------------------------

_STATUS_LINE = re.compile(r"(HTTP/1\.[01]) ([0-9]{3})(?: (.*))?")


def build_http_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A complete HTTP/1.1 response message, Content-Length set from the body."""
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_http_response(data: bytes) -> tuple[str, int, list[tuple[str, str]], bytes]:
    """(version, status, headers, body) of a raw HTTP/1.x response message; raises WireError when it is not one
    (no status line, a header line without a colon, no blank line, a body shorter than Content-Length)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise WireError(f"expected an HTTP/1.1 response message (status line, headers, blank line), saw "
                        f"{data[:60]!r}")
    lines = head.decode("latin-1").split("\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if not match:
        raise WireError(f"expected a status line like 'HTTP/1.1 200 OK', saw {lines[0][:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise WireError(f"expected a header line 'Name: value', saw {line[:80]!r}")
        headers.append((name, value.strip()))
    lengths = [v for k, v in headers if k.lower() == "content-length"]
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            raise WireError(f"expected one Content-Length number, saw {lengths}")
        if len(body) < int(lengths[0]):
            raise WireError(f"Content-Length says {lengths[0]} bytes, the message carries {len(body)}")
        body = body[: int(lengths[0])]
    return match.group(1), int(match.group(2)), headers, body
