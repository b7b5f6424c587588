"""Subscriptions and Notifications of the reference server (IEEE 2030.5-2018 Subscription/Notification).

A client POSTs a Subscription (subscribedResource, encoding, level, limit, notificationURI) to its EndDevice's
SubscriptionList. The server keeps, per subscription, the representation of the subscribed resource it last told
the client about (a list as its first `limit` items, with its `all`), and after every change made through the
2030.5 interface or the admin interface it renders each subscribed resource again: a different representation is
POSTed to the notificationURI as a Notification (status 0, the resource as an xsi:typed Resource, the absolute
subscriptionURI). A cancelled subscription gets a Notification with status 1 and no resource; one whose resource
was deleted, status 4. A subscriber that answers a Notification with 400 has its subscription deleted, without a
further Notification (CSIP ERR-002). Delivery goes over TLS 1.2 with the server's own certificate (the server is
the TLS client here) and is tried three times before it counts as undelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import httpx
from lxml import etree

from harness.reference.access import scope_for
from harness.reference.elements import child_text, el
from harness.reference.nats_notify import is_nats_uri
from harness.reference.render import to_bytes
from harness.reference.routes import match_route
from harness.reference.routing import Ctx
from harness.reference.tree import EndDevice
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.safexml import XMLRejected, parse_xml
from harness.server.http import HttpRequest

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp

XSI = "http://www.w3.org/2001/XMLSchema-instance"
STATUS_DEFAULT = 0
STATUS_CANCELLED = 1  # subscription cancelled, no additional information
STATUS_DELETED = 4  # subscription cancelled, resource deleted
ATTEMPTS = 3
RETRY_DELAY_S = 0.2
DELIVERY_TIMEOUT_S = 5.0


def local_path(href: str) -> str:
    """The path of an href on this server, without query: /edev/3 for /edev/3?l=1 or https://host:port/edev/3."""
    path = href.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return path


@dataclass
class Delivery:
    """The outcome of one Notification: where it went, its status, and the answer (or why it never arrived)."""

    to: str
    subscription: str
    status: int
    answer: int | None = None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The admin interface's view: delivered with the answer, or undelivered with why."""
        if self.problem is None:
            return {"to": self.to, "subscription": self.subscription, "status": self.status, "answer": self.answer}
        return {"to": self.to, "subscription": self.subscription, "status": self.status,
                "undelivered": self.problem}


@dataclass
class Notifier:
    """Watches the subscribed resources of a ReferenceApp and delivers its Notifications.

    base_url is the server's own https://host:port (subscriptionURI is absolute); context the TLS client context
    it delivers with. Call subscribed() when a Subscription is stored, changed() after anything may have changed,
    and drain() to wait for the deliveries under way and hear how they went.
    """

    app: ReferenceApp
    context: ssl.SSLContext | None
    base_url: str = ""
    snapshots: dict[tuple[int, int], bytes] = field(default_factory=dict)
    tasks: set[asyncio.Task[Delivery]] = field(default_factory=set)
    finished: list[Delivery] = field(default_factory=list)
    # One client for every delivery: a subscriber's connection is kept alive between Notifications.
    client: httpx.AsyncClient | None = None
    # Delivery to nats:// and tls:// notificationURIs (harness.reference.nats_notify), when the server is on NATS.
    nats: Any = None

    @property
    def defects(self) -> Any:
        """The server's defects."""
        return self.app.defects

    # --- what a subscription sees ----------------------------------------------------------------------

    def render(self, device: EndDevice, subscription: etree._Element) -> etree._Element | None:
        """The subscribed resource as the subscriber may see it now (a list: its first `limit` items); None
        when it no longer exists or the subscriber may not read it."""
        path = local_path(child_text(subscription, "subscribedResource"))
        limit = child_text(subscription, "limit") or "1"
        if "notification-ignores-limit" in self.defects:
            limit = "255"  # a list GET without l= serves one item (2030.5 default), so the defect asks for all
        query = [("s", "0"), ("l", limit)]
        route, params = match_route(path)
        if route is None:
            return None
        request = HttpRequest(method="GET", target=path, path=path, query=query, headers=[], body=b"",
                              peer_cert_der=None, scheme="https", http_version="1.1")
        scope = scope_for(self.app.tree, device.lfdi, self.defects)
        try:
            response = route.handler(self.app, Ctx(request, params, scope))
        except Exception:  # a resource that no longer resolves (KeyError, Forbidden…) is gone for this subscriber
            return None
        if response.status != 200 or not response.body:
            return None
        try:
            return parse_xml(response.body)
        except XMLRejected:
            return None

    def subscribed(self, device: EndDevice, index: int) -> None:
        """Remember what the new subscription's resource looks like now: later changes are notified."""
        element = self.render(device, device.subscriptions[index])
        self.snapshots[(device.index, index)] = to_bytes(element) if element is not None else b""

    def forget(self, device: EndDevice, index: int) -> None:
        """Drop a deleted subscription's snapshot."""
        self.snapshots.pop((device.index, index), None)

    def _subscribers(self) -> list[EndDevice]:
        # Every write asks: with 1,000 EndDevices and few subscribers, a built-in filter keeps that cheap.
        return list(filter(attrgetter("subscriptions"), self.app.tree.end_devices.values()))

    def changed(self) -> None:
        """Notify every subscription whose resource now looks different from what its subscriber was told."""
        for device in self._subscribers():
            for index, subscription in list(device.subscriptions.items()):
                key = (device.index, index)
                if key not in self.snapshots:
                    self.subscribed(device, index)
                    continue
                element = self.render(device, subscription)
                if element is None:
                    continue  # a deleted resource is told by deleted(), not here
                now = to_bytes(element)
                if now == self.snapshots[key]:
                    continue
                self.snapshots[key] = now
                if "notification-not-sent" in self.defects:
                    continue
                if "notification-wrong-resource" in self.defects:
                    element = self.app.render.end_device(device)
                self.send(device, index, STATUS_DEFAULT, element)
                if "notification-sent-twice" in self.defects:
                    self.send(device, index, STATUS_DEFAULT, element)

    def deleted(self, href: str) -> None:
        """A resource was deleted: its subscriptions end with a status 4 Notification and are removed."""
        for device in self._subscribers():
            for index, subscription in list(device.subscriptions.items()):
                if local_path(child_text(subscription, "subscribedResource")) == href:
                    self.send(device, index, STATUS_DELETED, None)
                    del device.subscriptions[index]
                    self.forget(device, index)

    def cancel(self, device: EndDevice, index: int) -> None:
        """End a subscription the server cancels: a status 1 Notification without a resource, then removal."""
        status = STATUS_DEFAULT if "cancellation-status-0" in self.defects else STATUS_CANCELLED
        self.send(device, index, status, None)
        del device.subscriptions[index]
        self.forget(device, index)

    # --- delivery ----------------------------------------------------------------------------------------

    def notification(self, device: EndDevice, index: int, status: int,
                     resource: etree._Element | None) -> etree._Element:
        """The Notification body: subscribedResource, the resource as an xsi:typed Resource, status, subscriptionURI."""
        subscription = device.subscriptions[index]
        carried = None
        if resource is not None:
            carried = etree.Element(f"{{{NS}}}Resource", nsmap={None: NS, "xsi": XSI})
            for name, value in resource.attrib.items():
                carried.set(name, value)
            carried.set(f"{{{XSI}}}type", etree.QName(resource).localname)
            carried.extend(list(resource))
        return el(
            "Notification",
            el("subscribedResource", text=child_text(subscription, "subscribedResource")),
            carried,
            el("status", text=status),
            el("subscriptionURI", text=f"{self.base_url}/edev/{device.index}/sub/{index}"),
        )

    def send(self, device: EndDevice, index: int, status: int, resource: etree._Element | None,
             body: etree._Element | None = None) -> None:
        """Deliver a Notification in the background (drain() waits for it)."""
        subscription = device.subscriptions[index]
        to = child_text(subscription, "notificationURI")
        document = body if body is not None else self.notification(device, index, status, resource)
        delivery = Delivery(to=to, subscription=f"/edev/{device.index}/sub/{index}", status=status)
        task = asyncio.get_running_loop().create_task(self._deliver(device, index, delivery, to_bytes(document)))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Delivery]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is None:
            self.finished.append(task.result())

    async def _deliver(self, device: EndDevice, index: int, delivery: Delivery, body: bytes) -> Delivery:
        if self.nats is not None and is_nats_uri(delivery.to):
            delivery.answer, problem_over_nats = await self.nats.deliver(delivery.to, body)
            if problem_over_nats:
                delivery.problem = f"notification to {delivery.to} undelivered: {problem_over_nats}"
            elif delivery.answer == 400 and "subscription-kept-after-400" not in self.defects and \
                    device.subscriptions.pop(index, None) is not None:
                self.forget(device, index)
            return delivery
        problem = ""
        for attempt in range(ATTEMPTS):
            if self.client is None:
                self.client = httpx.AsyncClient(verify=self.context or False, timeout=DELIVERY_TIMEOUT_S)
            try:
                answer = await self.client.post(delivery.to, content=body, headers={"Content-Type": MEDIA_TYPE_XML})
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc or type(exc).__name__}"
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(RETRY_DELAY_S)
                continue
            delivery.answer = answer.status_code
            # The subscriber refused the Notification: the subscription goes, silently (CSIP ERR-002 step 9).
            if (answer.status_code == 400 and "subscription-kept-after-400" not in self.defects
                    and device.subscriptions.pop(index, None) is not None):
                self.forget(device, index)
            return delivery
        delivery.problem = f"notification to {delivery.to} undelivered after {ATTEMPTS} attempts: {problem}"
        return delivery

    async def drain(self, timeout: float = 3 * DELIVERY_TIMEOUT_S) -> list[Delivery]:
        """Wait (at most timeout s) for the deliveries under way; every outcome since the last drain."""
        if self.tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), timeout)
        finished, self.finished = self.finished, []
        return finished

    async def aclose(self) -> None:
        """Stop the deliveries under way and close the delivering client."""
        for task in list(self.tasks):
            task.cancel()
        if self.client is not None:
            await self.client.aclose()
