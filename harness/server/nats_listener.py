"""The harness's notification listener over NATS: Notifications from a server DUT reached through a NATS server.

Over NATS a notificationURI is ``nats://HOST:PORT/<path>`` (or ``tls://``), the DUT's own NATS server, and the
Notification travels as a native request (docs/nats-mapping.md): published on the subject
``ieee2030.notifications.<path segments>`` with ``Sep-Method: POST``, ``Sep-Path``, ``Content-Type`` and the
body, answered with ``Sep-Status`` on the reply subject, or on the ``Sep-Reply`` header's subject when it came
through JetStream (a stored message keeps no reply subject).

With JetStream the DUT keeps its Notifications in the stream ``SEP_NOTIFICATIONS`` (subjects
``ieee2030.notifications.>``, the publisher's to create), and this listener reads them through a **durable**
(pull) consumer: a Notification published while the listener is offline (set_online(False)) is delivered when it
comes back. When the DUT has no such stream the listener subscribes plainly, and what is published while it is
offline is lost: the await step that expected it fails, naming the subject.

Same interface as harness.server.listener.NotificationListener: started, url, received, start(), close(),
after(), wait_for(), with the answer decided by the same callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import time
from typing import Any
from urllib.parse import unquote

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from harness.server.http import HttpRequest, split_target
from harness.server.listener import Answer, Received, accept_all
from harness.transport.arrivals import ArrivalLog
from harness.transport.nats_wire import METHOD, NATS_OWN_HEADERS, NOTIFY_PREFIX, NOTIFY_STREAM, PATH, REPLY, STATUS

DURABLE = "csip-harness-listener"


class NatsNotificationListener(ArrivalLog[Received]):
    """Receives a DUT's Notifications on ``prefix.>`` of the NATS server at server_url and keeps what arrives.

    server_url: ``nats://`` or ``tls://HOST:PORT`` (ssl_context: the harness's NATS TLS client certificate);
    jetstream: read through a durable consumer of the DUT's stream when it has one. start() raises OSError or a
    nats error when the NATS server cannot be reached.
    """

    def __init__(self, server_url: str, ssl_context: ssl.SSLContext | None = None, answer: Answer = accept_all, *,
                 prefix: str = NOTIFY_PREFIX, jetstream: bool = True) -> None:
        self.server_url = server_url.rstrip("/")
        self.ssl_context = ssl_context
        self.answer = answer
        self.prefix = prefix
        self.jetstream = jetstream
        self.received: list[Received] = []
        self.stored = False  # whether the DUT's stream keeps Notifications (known once started)
        self.online = False
        self._nc: Any = None
        self._arrived: asyncio.Condition | None = None
        self._started = False
        self._reader: asyncio.Task[None] | None = None
        self.durable = f"{DURABLE}-{secrets.token_hex(4)}"

    @property
    def started(self) -> bool:
        """Whether start() succeeded (the listener may be offline on purpose: set_online)."""
        return self._started

    @property
    def url(self) -> str:
        """The base of the notificationURIs given to the DUT: the NATS server's address."""
        return self.server_url

    def subject_of(self, path: str) -> str:
        """The subject a Notification for path travels on."""
        from harness.transport.nats_wire import notification_subject

        return notification_subject(path, self.prefix)

    async def start(self) -> None:
        """Connect and subscribe (idempotent)."""
        if self._started:
            return
        self._arrived = asyncio.Condition()
        await self._connect(first=True)
        self._started = True

    async def _connect(self, *, first: bool) -> None:
        options: dict[str, Any] = {"servers": [self.server_url], "name": "csip-harness-listener",
                                   "allow_reconnect": False}
        if self.ssl_context is not None:
            options["tls"] = self.ssl_context
        self._nc = await nats.connect(**options)
        wildcard = f"{self.prefix}.>"
        if self.jetstream:
            js = self._nc.jetstream()
            try:
                await js.stream_info(NOTIFY_STREAM)
                self.stored = True
            except (nats.js.errors.Error, nats.errors.Error):
                self.stored = False  # no stream, or no JetStream: plain NATS, nothing kept while offline
        if self.stored:
            # A pull consumer of this run's own: it starts at what comes next (older Notifications belong to
            # earlier runs), is read only while the listener is online, and after an absence hands over the
            # backlog on the first fetch. Left behind, the NATS server removes it after an hour unused.
            config = ConsumerConfig(durable_name=self.durable, deliver_policy=DeliverPolicy.NEW,
                                    ack_policy=AckPolicy.EXPLICIT, inactive_threshold=3600.0)
            pull = await self._nc.jetstream().pull_subscribe(wildcard, durable=self.durable, stream=NOTIFY_STREAM,
                                                            config=config if first else None)
            self._reader = asyncio.get_running_loop().create_task(self._read(pull))
        else:
            await self._nc.subscribe(wildcard, cb=self._plain)
        await self._nc.flush()
        self.online = True

    async def set_online(self, online: bool) -> None:
        """Go offline (close the connection: the durable consumer stays on the NATS server) or come back."""
        if online == self.online or not self._started:
            return
        if online:
            await self._connect(first=False)
        else:
            await self._disconnect()

    async def _read(self, pull: Any) -> None:
        while True:
            try:
                messages = await pull.fetch(16, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except nats.errors.Error:
                if self._nc is None or self._nc.is_closed:
                    return  # the listener went offline: set_online(True) starts another reader
                await asyncio.sleep(0.2)  # a passing JetStream error: keep reading
                continue
            for msg in messages:
                await self._stored(msg)

    async def _disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        nc, self._nc = self._nc, None
        self.online = False
        if nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await asyncio.wait_for(nc.close(), 2.0)

    async def close(self) -> None:
        """Disconnect for good."""
        await self._disconnect()
        self._started = False

    async def _plain(self, msg: Msg) -> None:
        await self._take(msg, msg.reply)

    async def _stored(self, msg: Msg) -> None:
        await self._take(msg, (msg.headers or {}).get(REPLY))
        with contextlib.suppress(nats.errors.Error):
            await msg.ack()

    def _path_of(self, msg: Msg) -> str:
        given = (msg.headers or {}).get(PATH)
        if given:
            return given
        tokens = msg.subject[len(self.prefix) + 1:].split(".")
        return "/" + "/".join(unquote(token) for token in tokens)

    async def _take(self, msg: Msg, reply: str | None) -> None:
        headers = dict(msg.headers or {})
        target = self._path_of(msg)
        path, query = split_target(target)
        request = HttpRequest(method=headers.get(METHOD, "POST"), target=target, path=path, query=query,
                              headers=[(k, v) for k, v in headers.items() if k.lower() not in NATS_OWN_HEADERS],
                              body=msg.data, peer_cert_der=None, scheme="nats", http_version="NATS/1.0")
        try:
            status, reason = self.answer(request)
        except Exception as exc:  # the answer is ours to decide: a bug in it is a 500, never a lost notification
            status, reason = 500, f"the listener could not judge the request: {type(exc).__name__}: {exc}"
        self.received.append(Received(
            seq=len(self.received) + 1, method=request.method, path=path, target=target, headers=request.headers,
            body=msg.data, peer_cert_der=None, tls_version=None, cipher=None, received=time.time(),
            at=time.monotonic(), status=status, reason=f"{reason} (on {msg.subject})"))
        if reply and self._nc is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(reply, b"", headers={STATUS: str(status)})
        await self._announce()
