"""The reference server's Notifications over NATS (docs/nats-mapping.md, "Notifications over NATS").

A Subscription whose notificationURI is ``nats://HOST:PORT/<path>`` (or ``tls://``) is notified on the subject
``ieee2030.notifications.<path segments>`` as a native request: ``Sep-Method: POST``, ``Sep-Path``,
``Content-Type`` and the Notification as payload. The server keeps its Notifications in the JetStream stream
``SEP_NOTIFICATIONS`` (it creates it when it starts): each is published through JetStream with a ``Sep-Reply``
header naming the inbox for the subscriber's answer, so one published while the subscriber is offline is
delivered when it comes back. Without JetStream (or under the defect ``notifications-not-stored``) it is a plain
NATS request: no responders, or no answer, and it is lost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import nats.errors
import nats.js.errors

from harness.sep import MEDIA_TYPE_XML
from harness.transport.nats_wire import (
    METHOD,
    NOTIFY_PREFIX,
    NOTIFY_STREAM,
    PATH,
    REPLY,
    STATUS,
    WireError,
    notification_subject,
)

ANSWER_WAIT_S = 2.0  # the subscriber's answer (a 400 ends the subscription); a stored one is not lost


def is_nats_uri(uri: str) -> bool:
    """Whether a notificationURI names a NATS server (nats:// or tls://)."""
    return urlsplit(uri).scheme.lower() in ("nats", "tls")


class NatsNotifications:
    """Delivers Notifications over the NATS front end's connection; setup() creates the stream."""

    def __init__(self, connection: Any, defects: Any, answer_wait: float = ANSWER_WAIT_S) -> None:
        self.nc = connection
        self.defects = defects
        self.answer_wait = answer_wait
        self.stored = False

    async def setup(self) -> NatsNotifications:
        """Create SEP_NOTIFICATIONS unless the defect says not to; stored says whether JetStream keeps them."""
        if "notifications-not-stored" in self.defects:
            return self
        try:
            await self.nc.jetstream().add_stream(name=NOTIFY_STREAM, subjects=[f"{NOTIFY_PREFIX}.>"])
            self.stored = True
        except (nats.js.errors.Error, nats.errors.Error):
            self.stored = False  # a NATS server without JetStream: plain requests only
        return self

    async def deliver(self, uri: str, body: bytes) -> tuple[int | None, str | None]:
        """(the subscriber's status, None), (None, None) when stored and not answered yet, or (None, why)."""
        path = urlsplit(uri).path
        try:
            subject = notification_subject(path)
        except WireError as exc:
            return None, str(exc)
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        headers = {METHOD: "POST", PATH: path, "Content-Type": MEDIA_TYPE_XML}
        try:
            if self.stored:
                headers[REPLY] = inbox
                try:
                    await self.nc.jetstream().publish(subject, body, headers=headers, timeout=self.answer_wait)
                except (nats.js.errors.Error, nats.errors.Error) as exc:
                    return None, f"JetStream did not store the Notification on {subject}: {exc or type(exc).__name__}"
            else:
                await self.nc.publish(subject, body, reply=inbox, headers=headers)
            try:
                msg = await sub.next_msg(timeout=self.answer_wait)
            except (nats.errors.TimeoutError, TimeoutError):
                if self.stored:
                    return None, None  # kept by JetStream: the subscriber gets it when it is back
                return None, f"no answer on {inbox} to the Notification on {subject}"
        finally:
            await sub.unsubscribe()
        got = dict(msg.headers or {})
        if got.get("Status") == "503":
            return None, f"no responders on {subject}: nothing subscribes, and nothing keeps the Notification"
        status = got.get(STATUS, "")
        if not status.isdigit():
            return None, f"the answer on {inbox} carries no {STATUS} header"
        return int(status), None
