"""A small asyncio HTTP/1.1 front end on h11 that hands every request, exactly as sent, to one handler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1_048_576
DEFAULT_IDLE_TIMEOUT = 30.0
_READ_CHUNK = 65_536
# Plaintext read per call on a TLS connection: two full TLS records (16 KiB each, RFC 5246 §6.2.1).
TLS_READ_BUFFER = 32 * 1024


@dataclass
class HttpRequest:
    """One request as the client sent it: method token, raw target, headers in order, body."""

    method: str
    target: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    peer_cert_der: bytes | None
    scheme: str
    http_version: str
    tls_version: str | None = None  # e.g. "TLSv1.2", None over plain HTTP
    cipher: str | None = None  # the negotiated suite in OpenSSL's naming, e.g. "ECDHE-ECDSA-AES128-CCM8"

    def header_values(self, name: str) -> list[str]:
        """Every value of the header name (case-insensitive), in the order sent."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        """The first value of the header name, or None when absent."""
        values = self.header_values(name)
        return values[0] if values else None


@dataclass
class HttpResponse:
    """A response to send; Content-Length is always set by the server from the body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
# Builds the answer to a request the server will not hand on (400 unparseable, 413, 500, 505).
ErrorResponder = Callable[[int, str], HttpResponse]


def http_date(at: float | None = None) -> str:
    """An HTTP-date in IMF-fixdate form (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; at in epoch seconds."""
    return formatdate(at, usegmt=True)


def with_date(headers: list[tuple[str, str]], *, send_date: bool = True) -> list[tuple[str, str]]:
    """headers plus a Date of now, unless the handler set one or send_date is off (RFC 9110 §6.6.1)."""
    if not send_date or any(key.lower() == "date" for key, _ in headers):
        return headers
    return [*headers, ("Date", http_date())]


def plain_error(status: int, reason: str) -> HttpResponse:
    """A text/plain error response naming the reason."""
    return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], reason.encode() + b"\n")


def split_target(target: str) -> tuple[str, list[tuple[str, str]]]:
    """Path and ordered query pairs (repeats kept) of a request target."""
    parts = urlsplit(target)
    return parts.path or "/", parse_qsl(parts.query, keep_blank_values=True)


class _TooLarge(Exception):
    pass


class RunningServer:
    """A listening server: its port, and close() to stop it and drop open connections."""

    def __init__(self, server: asyncio.AbstractServer) -> None:
        self._server = server
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful when asked for port 0)."""
        return self._server.sockets[0].getsockname()[1]

    def drop_connections(self) -> int:
        """Close every open connection (a restart's effect on clients), keep listening; how many were open.

        Closed, not reset: a client sees the end of its idle keep-alive connection and opens a new one.
        """
        open_now = list(self._connections)
        for writer in open_now:
            writer.close()
        return len(open_now)

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        # Before Python 3.12 wait_closed() does not wait for the connections: let each one's task end, so a loop
        # closed right after holds no pending task (a client's kept-alive connection, say). A TLS peer that never
        # answers our close_notify is cut off after a short grace.
        for attempt in range(150):
            if not self._connections:
                break
            if attempt == 50:
                for writer in list(self._connections):
                    writer.transport.abort()
            await asyncio.sleep(0.01)


class _Connection:
    """Serves one client connection until it closes, errs, or idles out."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: Handler,
        on_error: ErrorResponder,
        max_body: int,
        idle_timeout: float,
        send_date: bool = True,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.handler = handler
        self.on_error = on_error
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.send_date = send_date
        self.conn = h11.Connection(h11.SERVER)
        ssl_object = writer.get_extra_info("ssl_object")
        self.scheme = "https" if ssl_object is not None else "http"
        self.peer_cert_der: bytes | None = None
        self.tls_version: str | None = None
        self.cipher: str | None = None
        if ssl_object is not None:
            self.peer_cert_der = ssl_object.getpeercert(binary_form=True)
            self.tls_version = ssl_object.version()
            suite = ssl_object.cipher()
            self.cipher = suite[0] if suite else None

    async def _next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(self.reader.read(_READ_CHUNK), self.idle_timeout)
            self.conn.receive_data(data)

    async def _read_body(self, request: h11.Request) -> bytes:
        declared = _content_length(request.headers)
        if declared is not None and declared > self.max_body:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                # Chunked bodies carry no length up front, so the limit is enforced as they arrive.
                if size > self.max_body:
                    raise _TooLarge
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} in a request body")

    async def _send(self, response: HttpResponse, *, head: bool) -> None:
        headers = [(k, v) for k, v in response.headers if k.lower() not in ("content-length", "connection")]
        headers = with_date(headers, send_date=self.send_date)
        headers.append(("Content-Length", str(len(response.body))))
        reason = _reason(response.status)
        data = self.conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
        # A HEAD response carries the GET headers but h11 refuses body bytes for it.
        if response.body and not head:
            data += self.conn.send(h11.Data(data=response.body))
        data += self.conn.send(h11.EndOfMessage())
        self.writer.write(data)
        await self.writer.drain()

    def _send_raw_error(self, status: int, reason: str) -> None:
        # After a protocol error h11's state machine is unusable, so the reply is written by hand.
        response = self.on_error(status, reason)
        lines = [f"HTTP/1.1 {status} {_reason(status).decode()}"]
        framing = ("content-length", "connection")
        headers = with_date(response.headers, send_date=self.send_date)
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in framing]
        lines += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
        self.writer.write("\r\n".join(lines).encode("latin-1") + response.body)

    async def serve(self) -> None:
        try:
            await self._loop()
        except (TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except Exception:  # one broken connection must never take the server down
            log.exception("connection failed")
        finally:
            # A server closed while this connection closes cancels the wait; the task must still end normally, or
            # asyncio's stream callback reports the cancellation as an error on stderr.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                self.writer.close()
                await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def _loop(self) -> None:
        while True:
            try:
                event = await self._next_event()
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
                if not isinstance(event, h11.Request):
                    raise h11.RemoteProtocolError(f"expected a request, saw {type(event).__name__}")
                if event.http_version not in (b"1.0", b"1.1"):
                    # h11 treats any other version like 1.0; we would rather not guess what it means.
                    self._send_raw_error(505, f"HTTP/{event.http_version.decode()} not supported")
                    await self.writer.drain()
                    return
                body = await self._read_body(event)
            except h11.RemoteProtocolError as exc:
                self._send_raw_error(400, f"bad request: {exc}")
                await self.writer.drain()
                return
            except _TooLarge:
                self._send_raw_error(413, f"request body larger than {self.max_body} bytes")
                await self.writer.drain()
                return
            request = self._request(event, body)
            try:
                response = await self.handler(request)
            except Exception:
                log.exception("handler failed on %s %s", request.method, request.target)
                response = self.on_error(500, "internal server error")
            # h11 tracks keep-alive (HTTP/1.0, Connection: close) and adds the close header itself.
            await self._send(response, head=request.method == "HEAD")
            if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                return
            self.conn.start_next_cycle()

    def _request(self, event: h11.Request, body: bytes) -> HttpRequest:
        target = event.target.decode("latin-1")
        path, query = split_target(target)
        return HttpRequest(
            method=event.method.decode("latin-1"),
            target=target,
            path=path,
            query=query,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()],
            body=body,
            peer_cert_der=self.peer_cert_der,
            scheme=self.scheme,
            http_version=event.http_version.decode("latin-1"),
            tls_version=self.tls_version,
            cipher=self.cipher,
        )


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            return int(value)
    return None


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _small_tls_read_buffers() -> None:
    """Have asyncio's TLS connections read into TLS_READ_BUFFER bytes rather than its default 256 KiB.

    asyncio.sslproto.SSLProtocol gives every connection a buffer of its class attribute max_size when the
    connection is made; a server holding 1,000 devices' connections (bench/bench_test_server.py) kept 250 MB
    in them, half its resident set. A smaller buffer only means more reads for a body larger than it. Left
    alone on a Python whose asyncio has no such attribute, or a smaller one.
    """
    protocol: Any = getattr(getattr(asyncio, "sslproto", None), "SSLProtocol", None)
    size = getattr(protocol, "max_size", None)
    if isinstance(size, int) and size > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER


async def start_http_server(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    *,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    on_error: ErrorResponder = plain_error,
    send_date: bool = True,
    accept_peer: Callable[[ssl.SSLObject], bool] | None = None,
) -> RunningServer:
    """Listen on host:port (TLS when ssl_context is given) and answer each request with handler.

    accept_peer, when given, sees each TLS connection once its handshake is done; False drops the connection.

    Every response carries a Date header (RFC 9110 §6.6.1: an origin server with a clock sends one) unless the
    handler set its own; send_date=False leaves it out, for a server that plays one without a clock.
    """
    running: RunningServer
    if ssl_context is not None:
        _small_tls_read_buffers()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if accept_peer is not None and ssl_object is not None and not accept_peer(ssl_object):
            # Refused after the handshake, before any request is read: the client sees a disconnect.
            writer.transport.abort()
            return
        running._connections.add(writer)
        try:
            await _Connection(reader, writer, handler, on_error, max_body, idle_timeout, send_date).serve()
        finally:
            running._connections.discard(writer)

    server = await asyncio.start_server(
        accept, host, port, ssl=ssl_context, ssl_handshake_timeout=idle_timeout if ssl_context else None
    )
    running = RunningServer(server)
    return running
