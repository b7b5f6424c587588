"""The HTTP front end over real mutual TLS with asyncio's smaller TLS read buffer: a body many times the buffer
arrives whole and the answer goes back whole, and each connection's buffer is the small one."""

from __future__ import annotations

import asyncio.sslproto
import hashlib

import httpx

from harness.pki import TestPki
from harness.sep.tls import client_context, server_context
from harness.server.http import TLS_READ_BUFFER, HttpRequest, HttpResponse, start_http_server


async def test_a_body_larger_than_the_tls_read_buffer_arrives_whole(pki: TestPki) -> None:
    seen: list[bytes] = []

    async def echo(request: HttpRequest) -> HttpResponse:
        seen.append(request.body)
        return HttpResponse(200, [("Content-Type", "application/octet-stream")], request.body[::-1])

    running = await start_http_server(echo, ssl_context=server_context(pki.server.cert, pki.server.key, pki.ca))
    body = hashlib.sha256(b"seed").digest() * 28_000  # 896,000 bytes: 27 buffers' worth
    pair = pki.clients["client"]
    try:
        async with httpx.AsyncClient(verify=client_context(pair.cert, pair.key, pki.ca), timeout=30) as http:
            answer = await http.post(f"https://127.0.0.1:{running.port}/echo", content=body)
    finally:
        await running.close()
    assert asyncio.sslproto.SSLProtocol.max_size == TLS_READ_BUFFER < len(body)
    assert seen == [body]
    assert answer.status_code == 200 and answer.content == body[::-1]
