"""A TLS probe: one fresh TCP connection and full handshake as one client identity, one HTTP/1.1 request over it.

COMM-003 and COMM-004 (CSIP conformance procedures) judge the connection setup itself: the version and cipher
suite the server selects (RFC 5246 §7.4), whether it asks for a client certificate (CertificateRequest), and
whether it refuses a certificate it must refuse (a fatal alert, a TCP disconnect or an HTTP 403, errata 7). The
probe drives the handshake through memory BIOs, so every byte that crosses the socket is kept with its time:
the plaintext TLS 1.2 handshake records are read from those bytes, and the same bytes become the packet trace
of the results-reporting specification (RPT-060, harness.transport.pcap). No capture privilege is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import h11

from harness.sep.identity import fingerprint
from harness.transport.base import CONNECT, PROTOCOL, TIMEOUT, TLS, Exchange, Request, Response
from harness.transport.http import _peer_chain

# Outcomes of a probe's connection, in the order a handshake can end.
ESTABLISHED = "established"  # handshake completed both ways
ALERT = "alert"  # the server sent a fatal alert during the handshake
DISCONNECT = "disconnect"  # the server closed or reset the connection before any response
LOCAL_REFUSAL = "server-certificate-refused"  # the harness refused the server's certificate
INCOMPLETE = "incomplete"  # the handshake neither completed nor was refused (a timeout, a connection error)
# Errors: the connection could not be tried (nothing was judged).
REFUSAL_KIND = "tls-refused"

_HANDSHAKE_NAMES = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 11: "Certificate",
                    12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
                    15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished"}
_ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
           42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
           45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
           49: "access_denied", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
           71: "insufficient_security", 80: "internal_error", 90: "user_canceled", 109: "missing_extension",
           110: "unsupported_extension", 116: "certificate_required"}
_READ = 65_536

T = TypeVar("T")


@dataclass
class Segment:
    """Bytes that crossed the socket: when (epoch s), which way, and whether the sender closed after them."""

    at: float
    outbound: bool
    data: bytes
    fin: bool = False


@dataclass
class ProbeResult:
    """The exchange (with its `tls` details) and every segment of the connection, in order."""

    exchange: Exchange
    segments: list[Segment] = field(default_factory=list)
    local: tuple[str, int] | None = None
    remote: tuple[str, int] | None = None


def handshake_facts(inbound: bytes) -> dict[str, Any]:
    """What the server's plaintext TLS records say: its handshake messages, version, suite, any alert.

    inbound is the server's byte stream from the start of the connection. Records after the server's
    ChangeCipherSpec are encrypted and only counted. Returns {"server_messages": [names], "server_version":
    "0x0303", "cipher_suite": "0xC0AE", "client_certificate_requested": bool, "alert": "fatal unknown_ca"|None}.
    """
    import dpkt  # here: a tls: step needs it, a run's start-up does not

    try:
        records, _used = dpkt.ssl.tls_multi_factory(inbound)
    except (dpkt.dpkt.UnpackError, dpkt.ssl.SSL3Exception, struct.error):
        records = []
    handshake = bytearray()
    facts: dict[str, Any] = {"server_messages": [], "server_version": None, "cipher_suite": None,
                             "client_certificate_requested": False, "alert": None, "encrypted_records": 0}
    encrypted = False
    for record in records:
        if encrypted:
            facts["encrypted_records"] += 1
            continue
        if record.type == 20:  # ChangeCipherSpec: what follows from the server is encrypted
            facts["server_messages"].append("ChangeCipherSpec")
            encrypted = True
        elif record.type == 21 and len(record.data) >= 2:
            level = "fatal" if record.data[0] == 2 else "warning"
            facts["alert"] = f"{level} {_ALERTS.get(record.data[1], str(record.data[1]))}"
        elif record.type == 22:
            handshake.extend(record.data)
    offset = 0
    while offset + 4 <= len(handshake):
        kind = handshake[offset]
        length = int.from_bytes(handshake[offset + 1:offset + 4], "big")
        body = bytes(handshake[offset + 4:offset + 4 + length])
        facts["server_messages"].insert(len(facts["server_messages"]) - ("ChangeCipherSpec" in
                                                                          facts["server_messages"]),
                                        _HANDSHAKE_NAMES.get(kind, str(kind)))
        if kind == 2 and len(body) >= 35:
            facts["server_version"] = f"0x{body[0]:02X}{body[1]:02X}"
            sid = body[34]
            if len(body) >= 37 + sid:
                facts["cipher_suite"] = f"0x{body[35 + sid]:02X}{body[36 + sid]:02X}"
        if kind == 13:
            facts["client_certificate_requested"] = True
        offset += 4 + length
    return facts


class _Connection:
    """A TCP connection whose TLS runs through memory BIOs; every segment is recorded."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: ssl.SSLObject,
                 incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, read_timeout: float) -> None:
        self.reader, self.writer, self.tls = reader, writer, tls
        self.incoming, self.outgoing = incoming, outgoing
        self.read_timeout = read_timeout
        self.segments: list[Segment] = []
        self.peer_closed = False

    async def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.segments.append(Segment(time.time(), True, data))
            self.writer.write(data)
            await self.writer.drain()

    async def pump(self, operation: Callable[[], T]) -> T:
        """Run an SSLObject operation, moving bytes between the socket and the BIOs until it completes."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                await self.flush()
                if self.peer_closed:
                    raise ConnectionResetError("the server closed the connection") from None
                try:
                    data = await asyncio.wait_for(self.reader.read(_READ), self.read_timeout)
                except ConnectionResetError:
                    self.peer_closed = True
                    self.segments.append(Segment(time.time(), False, b"", fin=True))
                    raise
                if data:
                    self.segments.append(Segment(time.time(), False, data))
                    self.incoming.write(data)
                else:
                    self.peer_closed = True
                    self.segments.append(Segment(time.time(), False, b"", fin=True))
                    self.incoming.write_eof()
                continue
            await self.flush()
            return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if not self.peer_closed:
                self.tls.unwrap()
        with contextlib.suppress(Exception):
            await self.flush()
        self.segments.append(Segment(time.time(), True, b"", fin=True))
        with contextlib.suppress(Exception):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 1)


def _http_request(request: Request, headers: list[tuple[str, str]], target: str) -> tuple[bytes, h11.Connection]:
    """The request's bytes, and the h11 connection that sent them (it parses the response to that request)."""
    client = h11.Connection(h11.CLIENT)
    if request.body:
        headers = [*headers, ("Content-Length", str(len(request.body)))]
    data = client.send(h11.Request(method=request.method, target=target, headers=headers))
    if request.body:
        data += client.send(h11.Data(data=request.body))
    return data + client.send(h11.EndOfMessage()), client


async def _read_response(conn: _Connection, parser: h11.Connection, max_body: int) -> Response | None:
    """The HTTP/1.1 response, or None when the server closed before sending one."""
    head: h11.Response | None = None
    body = bytearray()
    while True:
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError:
            if head is None and not body:
                return None  # closed before any byte of a response: a disconnect, not a malformed response
            raise
        if event is h11.NEED_DATA:
            try:
                chunk = await conn.pump(lambda: conn.tls.read(_READ))
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError):
                chunk = b""
            parser.receive_data(chunk)
            continue
        if isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body.extend(event.data)
            if len(body) > max_body:
                break
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if head is None:
        return None
    return Response(status=head.status_code,
                    headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()],
                    body=bytes(body), http_version=f"HTTP/{head.http_version.decode()}")


async def probe(request: Request, context: ssl.SSLContext, *, connect_timeout: float = 5.0,
                read_timeout: float = 10.0, total_timeout: float = 30.0, max_body: int = 1_048_576) -> ProbeResult:
    """Send request on a fresh connection with a full handshake; never raises for what the server does.

    The exchange's tls holds the negotiated version and suite, the server's chain and handshake_facts(),
    plus `outcome` (established, alert, disconnect, server-certificate-refused). A refusal by the server
    (alert or disconnect) is the exchange's error with error_kind "tls-refused"; a connection that could not be
    opened is error_kind "connect" or "timeout".
    """
    exchange = Exchange(request=request, started=time.time())
    result = ProbeResult(exchange)
    parts = urlsplit(request.url)
    host, port = parts.hostname or "", parts.port or 443
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    clock = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
    except (OSError, TimeoutError) as exc:
        exchange.error_kind = TIMEOUT if isinstance(exc, TimeoutError) else CONNECT
        exchange.error = f"{exchange.error_kind} failure: {type(exc).__name__}: {exc or 'no detail'}"
        exchange.elapsed = time.perf_counter() - clock
        return result
    result.local = writer.get_extra_info("sockname")[:2]
    result.remote = writer.get_extra_info("peername")[:2]
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host if context.check_hostname else None)
    conn = _Connection(reader, writer, tls, incoming, outgoing, read_timeout)
    outcome = INCOMPLETE
    conn_details: dict[str, Any] = {}
    try:
        await conn.pump(tls.do_handshake)
        outcome = ESTABLISHED
        conn_details = {"version": tls.version(), "cipher": (tls.cipher() or (None,))[0]}
        exchange.sent_headers = [("Host", parts.netloc), *request.headers, ("Connection", "close")]
        sent, parser = _http_request(request, exchange.sent_headers, target)
        tls.write(sent)
        await conn.flush()
        async with asyncio.timeout(max(total_timeout - (time.perf_counter() - clock), 0.001)):
            response = await _read_response(conn, parser, max_body)
        if response is None:
            outcome = DISCONNECT
            exchange.error = "the server closed the connection after the handshake without a response"
            exchange.error_kind = REFUSAL_KIND
        else:
            exchange.response = response
    except ssl.SSLCertVerificationError as exc:
        outcome = LOCAL_REFUSAL
        exchange.error = f"the harness refused the server's certificate: {exc.verify_message or exc}"
        exchange.error_kind = TLS
    except ssl.SSLError as exc:
        stage = "handshake" if outcome != ESTABLISHED else "connection"
        outcome = ALERT if "ALERT" in str(exc).upper() else DISCONNECT
        exchange.error = f"the TLS {stage} ended: {exc}"
        exchange.error_kind = REFUSAL_KIND
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        outcome = DISCONNECT
        exchange.error = f"the server closed the connection: {type(exc).__name__}: {exc}"
        exchange.error_kind = REFUSAL_KIND
    except TimeoutError:
        exchange.error = (f"timeout failure: expected the server's next bytes within {read_timeout} s and the "
                          f"whole response within {total_timeout} s, saw none in time")
        exchange.error_kind = TIMEOUT
    except h11.ProtocolError as exc:
        exchange.error = f"{PROTOCOL} failure: the response is not HTTP/1.1: {exc}"
        exchange.error_kind = PROTOCOL
    await conn.close()
    exchange.elapsed = time.perf_counter() - clock
    result.segments = conn.segments
    inbound = b"".join(s.data for s in conn.segments if not s.outbound)
    peer = None
    with contextlib.suppress(ValueError, ssl.SSLError):
        peer = tls.getpeercert(binary_form=True)
    exchange.tls = {
        "version": conn_details.get("version"),
        "cipher": conn_details.get("cipher"),
        "peer_certificate_sha256": fingerprint(peer) if peer else None,
        "certificate_chain": _peer_chain(tls) if peer else [],
        "outcome": outcome,
        "fresh_connection": True,
        **handshake_facts(inbound),
    }
    return result
