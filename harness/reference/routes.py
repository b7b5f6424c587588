"""The reference server's resource routes: path patterns, the WADL methods of each, and their handlers.

Per-client access to a path is decided before a handler runs (harness.reference.access.path_access); the
handlers of lists filter what the client may see, and those of writes check what it may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lxml import etree

from harness.reference import clock
from harness.reference.elements import child_text
from harness.reference.metering_routes import METERING_ROUTES
from harness.reference.render import Renderer
from harness.reference.routing import GET, BadBody, Ctx, Forbidden, Route, RouteHandler, route
from harness.reference.topology_routes import FSA_ROUTES
from harness.reference.tree import DEFAULT_PIN, EndDevice, Posted, Tree
from harness.server.http import HttpResponse

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp

__all__ = ["ROUTES", "match_route"]


# --- route handlers ------------------------------------------------------------------------------


def _dcap(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.device_capability(ctx.scope))


def _time(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.time())


def _edev_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    if ctx.request.method == "POST":
        return _post_end_device(app, ctx)
    return app.list_response(
        ctx,
        "EndDeviceList",
        app.render.visible_end_devices(ctx.scope),
        app.render.end_device,
        poll_rate=True,
        subscribable=True,
        time_key=lambda d: d.changed_time,
    )


def _post_end_device(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    """POST /edev: update the EndDevice of that identity (204 with its Location), or register a new one (201).

    An EndDevice whose lFDI (or, without one, sFDI) is registered is updated in place rather than duplicated:
    nothing new was created, so the answer is 204 No Content (RFC 9110 §9.3.3 keeps 201 for a POST that
    creates), with the Location of the existing EndDevice, as 2030.5 answers a MirrorUsagePoint POSTed again.
    """
    root = app.body(ctx, "EndDevice")
    sfdi_value = int(child_text(root, "sFDI"))
    lfdi_value = child_text(root, "lFDI").upper() or None
    existing = None
    if "edev-duplicate-lfdi" not in app.defects:
        existing = app.tree.device_by_lfdi(lfdi_value) if lfdi_value else app.tree.device_by_sfdi(sfdi_value)
    if existing is not None:
        if not ctx.scope.may_access_end_device(existing.index):
            raise Forbidden(f"/edev/{existing.index} is not this client's")
        if existing.sfdi != sfdi_value:
            raise BadBody(f"lFDI {lfdi_value} is registered with sFDI {existing.sfdi}, not {sfdi_value}", 1)
        _update_end_device(app.tree, existing, root)
        return HttpResponse(204, [("Location", f"/edev/{existing.index}")])
    if not ctx.scope.may_register(sfdi_value, lfdi_value):
        raise Forbidden(f"this client may not register sFDI {sfdi_value}")
    device = app.tree.add_end_device(
        sfdi_value, lfdi_value, int(child_text(root, "changedTime")), DEFAULT_PIN, preregistered=False
    )
    if ctx.scope.registrar:
        device.registered_by = ctx.scope.lfdi
    return app.created(f"/edev/{device.index}")


def _update_end_device(tree: Tree, device: EndDevice, root: etree._Element) -> None:
    """Apply what an EndDevice PUT or POST may change: changedTime, enabled, and a first lFDI."""
    device.changed_time = int(child_text(root, "changedTime"))
    enabled = child_text(root, "enabled")
    if enabled:
        device.enabled = enabled in ("true", "1")
    if device.lfdi is None and child_text(root, "lFDI"):
        tree.set_lfdi(device, child_text(root, "lFDI").upper())


def _edev(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    if ctx.request.method == "DELETE":
        if "edev-delete-refused" in app.defects:
            return HttpResponse(405, [("Allow", "GET, HEAD, PUT")])
        app.tree.remove_end_device(device.index)
        return HttpResponse(204)
    if ctx.request.method == "PUT":
        root = app.body(ctx, "EndDevice")
        if int(child_text(root, "sFDI")) != device.sfdi:
            raise BadBody(f"/edev/{device.index} has sFDI {device.sfdi}, not {child_text(root, 'sFDI')}", 1)
        _update_end_device(app.tree, device, root)
        return HttpResponse(204)
    return app.xml(app.render.end_device(device))


def _registration(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.registration(app.device(ctx)))


_DER_KINDS = frozenset({"DERCapability", "DERSettings", "DERStatus", "DERAvailability"})


def _stored(kind: str, render: Callable[[Renderer, EndDevice], etree._Element]) -> RouteHandler:
    """A handler for a resource the client may replace with PUT and read back with GET."""

    def handler(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
        device = app.device(ctx)
        if ctx.request.method == "PUT":
            root = app.body(ctx, kind)
            root.attrib.pop("href", None)
            der = kind in _DER_KINDS
            if not (der and "der-put-not-stored" in app.defects):
                device.stored[kind] = root
            return HttpResponse(200 if der and "der-put-returns-200" in app.defects else 204)
        # What the client last PUT is served back; until then, the server's own default.
        stored = app.render.stored(device, kind, ctx.request.path)
        return app.xml(stored if stored is not None else render(app.render, device))

    return handler


def _der_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.list_response(ctx, "DERList", [app.device(ctx)], app.render.der, poll_rate=True)


def _der(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    if ctx.params["der"] != "1":
        raise KeyError(ctx.params["der"])
    return app.xml(app.render.der(app.device(ctx)))


def _log_events(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    if ctx.request.method == "POST":
        root = app.body(ctx, "LogEvent")
        index = device.next_log_event
        device.next_log_event += 1
        root.set("href", f"/edev/{device.index}/lel/{index}")
        device.log_events.append((int(child_text(root, "createdDateTime")), root))
        return app.created(f"/edev/{device.index}/lel/{index}")
    # IEEE 2030.5-2018 LogEvent function set: a new LogEvent is added as the first entry of the list, which is
    # ordered by createdDateTime, newest first (CSIP BASIC-027, LOG.003).
    sign = 1 if "logevent-list-oldest-first" in app.defects else -1
    ordered = sorted(device.log_events, key=lambda item: sign * item[0])
    return app.list_response(
        ctx, "LogEventList", ordered, lambda item: item[1], poll_rate=True, subscribable=True,
        time_key=lambda item: item[0],
    )


def _log_event(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    """A LogEvent: GET it, or DELETE it (the 2030.5 WADL makes DELETE mandatory on a LogEvent)."""
    if ctx.request.method == "DELETE" and "logevent-delete-refused" in app.defects:
        return HttpResponse(405, [("Allow", "GET, HEAD")])
    device = app.device(ctx)
    href = ctx.request.path
    for number, (_, element) in enumerate(device.log_events):
        if element.get("href") == href:
            if ctx.request.method == "DELETE":
                del device.log_events[number]
                return HttpResponse(204)
            return app.xml(element)
    raise KeyError(href)


def _subscriptions(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    if ctx.request.method == "POST":
        root = app.body(ctx, "Subscription")
        index = device.next_subscription
        device.next_subscription += 1
        root.set("href", f"/edev/{device.index}/sub/{index}")
        device.subscriptions[index] = root
        if app.notifier is not None:
            app.notifier.subscribed(device, index)
        if "subscription-no-location" in app.defects:
            return HttpResponse(201)
        return app.created(f"/edev/{device.index}/sub/{index}")
    ordered = [device.subscriptions[k] for k in sorted(device.subscriptions)]
    return app.list_response(ctx, "SubscriptionList", ordered, lambda item: item, poll_rate=True)


def _subscription(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    index = int(ctx.params["sub"])
    if ctx.request.method == "DELETE":
        del device.subscriptions[index]
        if app.notifier is not None:
            app.notifier.forget(device, index)
        return HttpResponse(204)
    return app.xml(device.subscriptions[index])


def _program_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.list_response(
        ctx, "DERProgramList", app.tree.listed_programs(), app.render.der_program, poll_rate=True,
        subscribable=True,
    )


def _program(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.der_program(app.program(ctx)))


def _default_control(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.default_der_control(app.program(ctx)))


def _control_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    now = clock.now()
    return app.list_response(
        ctx, "DERControlList", app.render.served_controls(program, now),
        lambda c: app.render.der_control(program, c, now), poll_rate=False, subscribable=True,
        time_key=lambda c: c.start,
    )


def _control(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    wanted = int(ctx.params["derc"])
    now = clock.now()
    for control in app.render.served_controls(program, now):  # an ended event is no longer served: 404
        if control.index == wanted:
            return app.xml(app.render.der_control(program, control, now))
    raise KeyError(wanted)


def _curve_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    ordered = sorted(program.curves, key=lambda c: (-c.creation_time, c.mrid))
    return app.list_response(
        ctx, "DERCurveList", ordered, lambda c: app.render.der_curve(program, c), poll_rate=False,
        time_key=lambda c: c.creation_time,
    )


def _curve(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    wanted = int(ctx.params["dc"])
    for curve in program.curves:
        if curve.index == wanted:
            return app.xml(app.render.der_curve(program, curve))
    raise KeyError(wanted)


def _posted_list(
    store: Callable[[Tree], dict[int, Posted]], tag: str, roots: tuple[str, ...], base: str, *, poll_rate: bool
) -> RouteHandler:
    """A handler for a list that clients add to with POST (the ResponseList)."""

    def handler(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
        items = store(app.tree)
        if ctx.request.method == "POST":
            root = app.body(ctx, *roots)
            if "response-rejected" in app.defects:
                raise BadBody("the response-rejected defect", 0)
            index = max(items, default=0) + 1
            root.set("href", f"{base}/{index}")
            items[index] = Posted(index, clock.now(), root)
            return app.created(f"{base}/{index}")
        ordered = sorted(items.values(), key=lambda p: (-p.created, p.index))
        return app.list_response(
            ctx, tag, ordered, lambda p: p.element, poll_rate=poll_rate, time_key=lambda p: p.created
        )

    return handler


def _posted_item(store: Callable[[Tree], dict[int, Posted]]) -> RouteHandler:
    """A handler for one POSTed item: GET it, or DELETE it."""

    def handler(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
        items = store(app.tree)
        index = int(ctx.params["rsp"])
        if ctx.request.method == "DELETE":
            del items[index]
            return HttpResponse(204)
        return app.xml(items[index].element)

    return handler


_EDEV = "/edev/{edev}"
_DER = _EDEV + "/der/{der}"
ROUTES: tuple[Route, ...] = (
    route("/dcap", GET, _dcap, public=True),
    route("/tm", GET, _time, public=True),
    route("/edev", (*GET, "POST"), _edev_list),
    route(_EDEV, (*GET, "PUT", "DELETE"), _edev),
    route(_EDEV + "/rg", GET, _registration),
    route(_EDEV + "/di", (*GET, "PUT"), _stored("DeviceInformation", Renderer.device_information)),
    route(_EDEV + "/ps", (*GET, "PUT"), _stored("PowerStatus", Renderer.power_status)),
    *FSA_ROUTES,
    route(_EDEV + "/der", GET, _der_list),
    route(_DER, GET, _der),
    route(_DER + "/dercap", (*GET, "PUT"), _stored("DERCapability", Renderer.der_capability)),
    route(_DER + "/derg", (*GET, "PUT"), _stored("DERSettings", Renderer.der_settings)),
    route(_DER + "/ders", (*GET, "PUT"), _stored("DERStatus", Renderer.der_status)),
    route(_DER + "/dera", (*GET, "PUT"), _stored("DERAvailability", Renderer.der_availability)),
    route(_EDEV + "/lel", (*GET, "POST"), _log_events),
    route(_EDEV + "/lel/{lel}", (*GET, "DELETE"), _log_event),
    route(_EDEV + "/sub", (*GET, "POST"), _subscriptions),
    route(_EDEV + "/sub/{sub}", (*GET, "DELETE"), _subscription),
    route("/derp", GET, _program_list),
    route("/derp/{derp}", GET, _program),
    route("/derp/{derp}/dderc", GET, _default_control),
    route("/derp/{derp}/derc", GET, _control_list),
    route("/derp/{derp}/derc/{derc}", GET, _control),
    route("/derp/{derp}/dc", GET, _curve_list),
    route("/derp/{derp}/dc/{dc}", GET, _curve),
    route("/rsps/1/rsp", (*GET, "POST"), _posted_list(
        lambda t: t.responses, "ResponseList", ("Response", "DERControlResponse"), "/rsps/1/rsp",
        poll_rate=False,
    )),
    route("/rsps/1/rsp/{rsp}", (*GET, "DELETE"), _posted_item(lambda t: t.responses)),
    *METERING_ROUTES,
)


def match_route(path: str) -> tuple[Route | None, dict[str, str]]:
    """The route whose pattern matches path, with its parameters."""
    for candidate in ROUTES:
        found = candidate.pattern.fullmatch(path)
        if found:
            return candidate, found.groupdict()
    return None, {}
