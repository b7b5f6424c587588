"""The harness's notification listener: an HTTPS endpoint (mutual TLS) that receives a server DUT's Notifications.

IEEE 2030.5-2018 Subscription/Notification: a client that subscribes gives the server a notificationURI, and the
server POSTs each Notification there. The harness, acting as that client, runs this listener on the h11 front end
(harness.server.http) with a TLS 1.2 server context that asks the DUT for its certificate. Every POST is kept as
it arrived, with the answer the listener gave (decided by the `answer` callback, 201 Created unless it says
otherwise), so that steps can wait for one and judge it afterwards.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.server.http import HttpRequest, HttpResponse, RunningServer, start_http_server
from harness.transport.arrivals import ArrivalLog


@dataclass
class Received:
    """One request that reached the listener: what the DUT sent, when, over what TLS, and what we answered.

    received is epoch seconds (our wall clock), at is time.monotonic() seconds; status and reason are the answer.
    """

    seq: int
    method: str
    path: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    peer_cert_der: bytes | None
    tls_version: str | None
    cipher: str | None
    received: float
    at: float
    status: int
    reason: str

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


# Decides the answer to one request: (status, reason). The reason is kept as evidence, never sent.
Answer = Callable[[HttpRequest], tuple[int, str]]


def accept_all(request: HttpRequest) -> tuple[int, str]:
    """The default answer: 201 Created to a POST (the WADL's answer to a Notification), 405 to anything else."""
    if request.method != "POST":
        return 405, f"a notificationURI takes POST, saw {request.method}"
    return 201, "accepted"


class NotificationListener(ArrivalLog[Received]):
    """Listens on host:port with TLS (ssl_context asks for and verifies the DUT's certificate), keeps what arrives.

    start() raises OSError when the address cannot be bound; url is the address given to the DUT (advertised, or
    https://host:port when none was given). wait_for() waits for the first request on a path after a sequence
    number; close() stops listening.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, host: str = "127.0.0.1", port: int = 0,
                 advertised: str | None = None, answer: Answer = accept_all) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.advertised = advertised
        self.answer = answer
        self.received: list[Received] = []
        self._server: RunningServer | None = None
        self._arrived: asyncio.Condition | None = None

    @property
    def started(self) -> bool:
        """Whether the listener is bound and accepting connections."""
        return self._server is not None

    @property
    def url(self) -> str:
        """The base URL the DUT is given (no trailing slash)."""
        if self.advertised:
            return self.advertised.rstrip("/")
        assert self._server is not None, "start() first"
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self._server.port}"

    @property
    def bound_port(self) -> int:
        """The TCP port actually bound."""
        assert self._server is not None, "start() first"
        return self._server.port

    async def start(self) -> None:
        """Bind and listen (idempotent). Raises OSError when the address cannot be bound."""
        if self._server is not None:
            return
        self._arrived = asyncio.Condition()
        self._server = await start_http_server(self._handle, self.host, self.port, self.ssl_context)

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        server, self._server = self._server, None
        if server is not None:
            await server.close()

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        try:
            status, reason = self.answer(request)
        except Exception as exc:  # the answer is ours to decide: a bug in it is a 500, never a lost notification
            status, reason = 500, f"the listener could not judge the request: {type(exc).__name__}: {exc}"
        entry = Received(
            seq=len(self.received) + 1, method=request.method, path=request.path, target=request.target,
            headers=list(request.headers), body=request.body, peer_cert_der=request.peer_cert_der,
            tls_version=request.tls_version, cipher=request.cipher, received=time.time(), at=time.monotonic(),
            status=status, reason=reason,
        )
        self.received.append(entry)
        await self._announce()
        return HttpResponse(status)
