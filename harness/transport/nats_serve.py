"""The parts a 2030.5 server's NATS front end is made of, whoever's server it is (the test server's, the reference
server's): NatsServerFront (connecting, subscribing to the native and tunnel request subjects, one task per request,
closing), and the media type of a header.

See docs/nats-mapping.md for the native and tunnel mappings these front ends serve.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Self

import nats
from nats.aio.msg import Msg

MsgHandler = Callable[[Msg], Awaitable[None]]


async def connect_server(server: str, name: str, ssl_context: ssl.SSLContext | None) -> Any:
    """A NATS connection for a server front end: reconnects for ever, 0.2 s apart (a restarted NATS server is
    met again). server: ``nats://`` or ``tls://HOST:PORT``; raises OSError/nats errors when it cannot connect."""
    options: dict[str, Any] = {"servers": [server], "name": name,
                               "max_reconnect_attempts": -1, "reconnect_time_wait": 0.2}
    if ssl_context is not None:
        options["tls"] = ssl_context
    return await nats.connect(**options)


class RequestTasks:
    """One asyncio task per request, so a slow answer (a wait on the clock) holds up no other."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, handler: MsgHandler) -> MsgHandler:
        """A subscription callback that runs handler(msg) in a task of its own."""
        async def callback(msg: Msg) -> None:
            task = asyncio.get_running_loop().create_task(handler(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return callback

    def cancel(self) -> None:
        """Cancel every request still in flight."""
        for task in list(self._tasks):
            task.cancel()


class NatsServerFront:
    """Subscribes a server's request handlers to the native and tunnel request subjects of one NATS server.

    server: ``nats://`` or ``tls://HOST:PORT``; ssl_context: the server's NATS TLS client certificate;
    native_subject: the native template (``{lfdi}`` subscribed as a ``*`` wildcard); tunnel_requests/
    tunnel_responses: the tunnel's subjects; either native_subject or tunnel_requests may be None to serve only
    the other mapping. A subclass answers in _native(msg) and _tunnel(msg), and names itself in client_name.
    """

    client_name = "csip-harness"

    def __init__(self, server: str, *, ssl_context: ssl.SSLContext | None, native_subject: str | None,
                 tunnel_requests: str | None, tunnel_responses: str) -> None:
        self.server = server
        self.ssl_context = ssl_context
        self.native_subject = native_subject
        self.tunnel_requests = tunnel_requests
        self.tunnel_responses = tunnel_responses
        self._nc: Any = None
        self._requests = RequestTasks()

    async def start(self) -> Self:
        """Connect and subscribe; returns once the NATS server has the subscriptions. Raises OSError/nats errors
        when the NATS server cannot be reached."""
        self._nc = await connect_server(self.server, self.client_name, self.ssl_context)
        if self.native_subject:
            await self._subscribe_native(self.native_subject.replace("{lfdi}", "*"))
        if self.tunnel_requests:
            await self._nc.subscribe(self.tunnel_requests, cb=self._requests.spawn(self._tunnel))
        await self._nc.flush()
        return self

    async def _subscribe_native(self, wildcard: str) -> None:
        await self._nc.subscribe(wildcard, cb=self._requests.spawn(self._native))

    async def _native(self, msg: Msg) -> None:
        raise NotImplementedError

    async def _tunnel(self, msg: Msg) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Drop the subscriptions and the connection; requests in flight are abandoned."""
        if self._nc is not None:
            self._requests.cancel()
            nc, self._nc = self._nc, None
            await nc.close()


def media_type(value: str | None) -> str:
    """A Content-Type or Accept value's media type, lower-case, without parameters ("" for None)."""
    return (value or "").split(";", 1)[0].strip().lower()


def retyped(headers: list[tuple[str, str]], media: str) -> list[tuple[str, str]]:
    """headers with every Content-Type's value replaced by media (a body converted between XML and JSON)."""
    return [(k, media if k.lower() == "content-type" else v) for k, v in headers]
