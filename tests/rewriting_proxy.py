"""A TLS proxy in front of the reference server that rewrites its answers: conforming variants for tests.

The reference server is one reading of IEEE 2030.5; real servers make other choices the standard allows
(a primacy in the user-defined or reserved range, a changedTime that moves, a DeviceCapability without a
DERProgramListLink, a pollRate left to its default). A test builds such a server by putting this proxy in
front of the reference server with a rewrite function, and runs the bundled cases against the proxy: a
conforming variant must pass, a faulty one must fail for the DUT's own fault. The proxy presents the
harness's own client certificate to the reference server, so the reference sees the same identity.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.sep.tls import client_context, server_context
from harness.server.http import HttpRequest, HttpResponse, RunningServer, start_http_server


@dataclass
class Answer:
    """What the reference server said, for a rewrite to change: status, headers and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request: HttpRequest = field(repr=False)

    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")

    def set_text(self, text: str) -> None:
        """Replace the body (Content-Length follows)."""
        self.body = text.encode("utf-8")


Rewrite = Callable[[Answer], None]

# Headers httpx and h11 compute themselves; forwarding them would describe the wrong body or connection.
_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "date"}


class RewritingProxy:
    """HTTPS on 127.0.0.1 (the test PKI's server certificate), forwarding to a reference server."""

    def __init__(self, reference: ReferenceProcess, pki: TestPki, rewrite: Rewrite) -> None:
        self.reference = reference
        self.pki = pki
        self.rewrite = rewrite
        self.port = 0
        self.seen: list[str] = []  # "METHOD target" of every request, in order
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: RunningServer | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:port of the proxy."""
        return f"https://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        client = self.pki.clients["client"]
        self._client = httpx.AsyncClient(verify=client_context(client.cert, client.key, self.pki.ca),
                                         base_url=self.reference.base_url, timeout=10, trust_env=False)
        context = server_context(self.pki.server.cert, self.pki.server.key, self.pki.ca)
        self._server = await start_http_server(self._handle, "127.0.0.1", 0, context)
        self.port = self._server.port

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        assert self._client is not None
        self.seen.append(f"{request.method} {request.target}")
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP]
        response = await self._client.request(request.method, request.target, headers=headers,
                                              content=request.body or None)
        answer = Answer(response.status_code, [(k, v) for k, v in response.headers.multi_items()
                                               if k.lower() not in _HOP], response.content, request)
        self.rewrite(answer)
        return HttpResponse(answer.status, answer.headers, answer.body)

    def start(self) -> RewritingProxy:
        """Start listening; returns once the port is bound."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop listening and close the forwarding client."""

        async def shutdown() -> None:
            if self._server is not None:
                await self._server.close()
            if self._client is not None:
                await self._client.aclose()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> RewritingProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
