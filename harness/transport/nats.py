"""2030.5 over NATS (nats-py): the native request/reply mapping and the InterSTORE tunnel (docs/nats-mapping.md).

:class:`NatsTransport` implements the Transport interface of :mod:`harness.transport.base`: one request in,
one :class:`Exchange` out, never raising for what the DUT or the NATS server did. Every error names the
subject it concerns: no responders on the request subject, no answer within the deadline on the reply
subject, a malformed reply (headers, status, HTTP message) and a flood of replies (more than one answer to
one request), each as an exchange with ``error`` and ``error_kind`` set, so the run goes on.

The connection (``nats://`` or ``tls://`` with a client certificate: NATS TLS with certificate-mapped users)
is made on the first exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
from nats.aio.msg import Msg

from harness.transport.base import CONNECT, FOREIGN_HOST, PROTOCOL, TIMEOUT, TLS, TOO_LARGE, Exchange, Request, Response
from harness.transport.nats_wire import (
    METHOD,
    NATIVE_SUBJECT,
    NATS_OWN_HEADERS,
    PATH,
    REPLY,
    STATUS,
    TUNNEL_REQUESTS,
    TUNNEL_RESPONSES,
    TunnelRequest,
    WireError,
    build_envelope,
    correlation_id,
    parse_http_response,
)

NATIVE = "native"
INTERSTORE = "interstore"
MAPPINGS = (NATIVE, INTERSTORE)
FLOOD = "flood"  # more than one answer to one request


@dataclass(frozen=True)
class NatsMapping:
    """How 2030.5 exchanges travel: ``mode`` native or interstore, and the subjects.

    ``request_subject`` (native) may hold ``{lfdi}``, replaced by the client's LFDI (lower-case hex), so
    that a NATS server with certificate-mapped users can allow each device only its own subject.
    ``settle`` (seconds) is how long to keep listening after the first answer for more (a flood); 0 looks
    only at what already arrived with the first.
    """

    mode: str = NATIVE
    request_subject: str = NATIVE_SUBJECT
    tunnel_requests: str = TUNNEL_REQUESTS
    tunnel_responses: str = TUNNEL_RESPONSES
    settle: float = 0.0
    # Native requests stored in JetStream (the server's stream SEP_REQUESTS): a request published while the
    # server is offline is answered when it comes back, within the read timeout.
    jetstream: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MAPPINGS:
            raise ValueError(f"NATS mapping: expected one of {', '.join(MAPPINGS)}, saw {self.mode!r}")


def nats_server_url(url: str) -> str:
    """The NATS server of a DUT address: ``nats://host:port`` (or ``tls://``) without the path."""
    split = urlsplit(url)
    scheme = split.scheme.lower()
    if scheme not in ("nats", "tls") or not split.hostname:
        raise ValueError(f"expected a nats:// or tls:// address with a host, saw {url!r}")
    host = f"[{split.hostname}]" if ":" in split.hostname else split.hostname
    return f"{scheme}://{host}:{split.port or 4222}"


def request_target(url: str) -> str:
    """The path and query of a request URL (``/edev?s=0&l=5``); ``/`` for none."""
    split = urlsplit(url)
    return (split.path or "/") + (f"?{split.query}" if split.query else "")


class NatsTransport:
    """Sends 2030.5 requests over NATS to a DUT (a 2030.5 server answering on NATS).

    ``server`` is ``nats://host:port`` or ``tls://host:port``; ``ssl_context`` carries the client certificate
    for NATS TLS; ``lfdi``/``sfdi`` are the client's (the native subject's ``{lfdi}``, the tunnel envelope's
    fields); ``timeout`` bounds each answer (seconds) unless the request gives its own.
    """

    def __init__(self, server: str, mapping: NatsMapping | None = None, *, ssl_context: ssl.SSLContext | None = None,
                 lfdi: str = "", sfdi: str = "", timeout: float = 10.0, connect_timeout: float = 5.0,
                 max_body: int = 1_048_576) -> None:
        self.server = nats_server_url(server)
        self.mapping = mapping or NatsMapping()
        self.name = "nats" if self.mapping.mode == NATIVE else "nats-interstore"
        self.ssl_context = ssl_context
        self.lfdi = lfdi.lower()
        self.sfdi = sfdi
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self._nc: Any = None
        self._lock = asyncio.Lock()

    @property
    def request_subject(self) -> str:
        """The subject requests go to (native: the template with the LFDI; tunnel: the requests subject)."""
        if self.mapping.mode == INTERSTORE:
            return self.mapping.tunnel_requests
        return self.mapping.request_subject.replace("{lfdi}", self.lfdi or "unknown")

    async def _connection(self) -> Any:
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                options: dict[str, Any] = {"servers": [self.server], "connect_timeout": self.connect_timeout,
                                           "allow_reconnect": False, "name": "csip-harness"}
                if self.ssl_context is not None:
                    options["tls"] = self.ssl_context
                    options["tls_hostname"] = urlsplit(self.server).hostname
                self._nc = await nats.connect(**options, error_cb=_quiet, closed_cb=_quiet_closed)
            return self._nc

    async def exchange(self, request: Request) -> Exchange:
        """Send request and return the exchange; never raises for what the DUT or NATS did."""
        exchange = Exchange(request=request, transport=self.name)
        start = time.perf_counter()
        try:
            same = nats_server_url(request.url) == self.server
        except ValueError:
            same = False
        if not same:
            # A link to another host or scheme (an absolute href, the plain-HTTP address): never sent.
            exchange.error = (f"not sent: {request.url} is not on the NATS server {self.server} this run talks to "
                              "(over NATS only paths on the DUT's own address are followed)")
            exchange.error_kind = FOREIGN_HOST
            return exchange
        try:
            nc = await self._connection()
        except (OSError, TimeoutError, nats.errors.Error, ssl.SSLError) as exc:
            text = str(exc) or type(exc).__name__
            kind = TLS if isinstance(exc, ssl.SSLError) or "tls" in text.lower() or "ssl" in text.lower() else CONNECT
            exchange.error, exchange.error_kind = f"cannot connect to the NATS server {self.server}: {text}", kind
            exchange.elapsed = time.perf_counter() - start
            return exchange
        timeout = request.timeout or self.timeout
        try:
            if self.mapping.mode == NATIVE:
                await self._native(nc, request, exchange, timeout)
            else:
                await self._tunnel(nc, request, exchange, timeout)
        except nats.errors.Error as exc:
            exchange.error, exchange.error_kind = f"NATS: {exc or type(exc).__name__}", CONNECT
        exchange.elapsed = time.perf_counter() - start
        return exchange

    async def _first_and_flood(self, sub: Any, subject: str, timeout: float, exchange: Exchange) -> Msg | None:
        """The first message on sub within timeout, with the flood check; None (error set) when none came."""
        try:
            msg = await sub.next_msg(timeout=timeout)
        except (nats.errors.TimeoutError, TimeoutError):
            exchange.error = (f"no answer on {subject} within {timeout:g} s to the request sent on "
                              f"{self.request_subject}")
            exchange.error_kind = TIMEOUT
            return None
        if self.mapping.settle:
            await asyncio.sleep(self.mapping.settle)
        else:
            for _ in range(3):
                await asyncio.sleep(0)  # let replies that came in the same read reach the queue
        extra = sub.pending_msgs
        if extra:
            exchange.error = (f"{extra + 1} answers on {subject} to one request (a flood of the reply subject); "
                              "2030.5 over NATS answers each request once")
            exchange.error_kind = FLOOD
        return msg

    async def _native(self, nc: Any, request: Request, exchange: Exchange, timeout: float) -> None:
        subject = self.request_subject
        headers = {METHOD: request.method, PATH: request_target(request.url)}
        for key, value in request.headers:
            if key.lower() not in NATS_OWN_HEADERS:
                headers[key] = value
        exchange.sent_headers = list(headers.items())
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        try:
            if self.mapping.jetstream:
                headers[REPLY] = inbox
                try:
                    await nc.jetstream().publish(subject, request.body, headers=headers, timeout=timeout)
                except nats.errors.Error as exc:
                    exchange.error = (f"JetStream did not store the request on {subject} (no stream takes the "
                                      f"subject, or it refused it): {exc or type(exc).__name__}")
                    exchange.error_kind = CONNECT
                    return
            else:
                await nc.publish(subject, request.body, reply=inbox, headers=headers)
            msg = await self._first_and_flood(sub, inbox, timeout, exchange)
        finally:
            await sub.unsubscribe()
        if msg is None:
            return
        got = dict(msg.headers or {})
        if got.get("Status") == "503" and not msg.data:
            exchange.error = f"no responders on {subject}: nothing subscribes to the request subject"
            exchange.error_kind = CONNECT
            return
        status = got.get(STATUS)
        if status is None or not status.isdigit() or not 100 <= int(status) <= 599:
            exchange.error = (f"malformed answer on {msg.subject} to the request on {subject}: expected a {STATUS} "
                              f"header with an HTTP status code, saw {status!r}")
            exchange.error_kind = PROTOCOL
            return
        if len(msg.data) > self.max_body:
            exchange.error = f"the answer on {msg.subject} carries {len(msg.data)} bytes, over {self.max_body}"
            exchange.error_kind = TOO_LARGE
            return
        response_headers = [(k, v) for k, v in got.items() if k.lower() not in NATS_OWN_HEADERS]
        exchange.response = Response(int(status), response_headers, msg.data, http_version="NATS/1.0")

    async def _tunnel(self, nc: Any, request: Request, exchange: Exchange, timeout: float) -> None:
        cid = correlation_id()
        reply_subject = f"{self.mapping.tunnel_responses}.{cid}"
        content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "")
        headers = list(request.headers)
        if request.body and not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(request.body))))
        exchange.sent_headers = headers
        envelope = build_envelope(TunnelRequest(
            correlation_id=cid, method=request.method, path=request_target(request.url), headers=headers,
            body=request.body, content_type=content_type, lfdi=self.lfdi, sfdi=self.sfdi))
        sub = await nc.subscribe(reply_subject)
        try:
            await nc.publish(self.mapping.tunnel_requests, envelope)
            msg = await self._first_and_flood(sub, reply_subject, timeout, exchange)
        finally:
            await sub.unsubscribe()
        if msg is None:
            return
        try:
            version, status, response_headers, body = parse_http_response(msg.data)
        except WireError as exc:
            exchange.error = f"malformed answer on {reply_subject}: {exc}"
            exchange.error_kind = PROTOCOL
            return
        if len(body) > self.max_body:
            exchange.error = f"the answer on {reply_subject} carries {len(body)} bytes, over {self.max_body}"
            exchange.error_kind = TOO_LARGE
            return
        exchange.response = Response(status, response_headers, body, http_version=version)

    async def aclose(self) -> None:
        """Close the NATS connection."""
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._nc.close()
        self._nc = None


async def _quiet(exc: Exception) -> None:
    """nats-py reports connection trouble here too; the exchange that meets it says what happened."""


async def _quiet_closed() -> None:
    """Nothing to do: the next exchange reconnects."""
