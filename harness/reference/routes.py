"""The reference server's resource routes: path patterns, the WADL methods of each, and their handlers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from harness.reference import clock
from harness.reference.render import Renderer
from harness.reference.tree import DEFAULT_PIN, EndDevice, Posted, Tree
from harness.sep import NS
from harness.server.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp

GET = ("GET", "HEAD")


class BadBody(Exception):
    """A request body that is unparseable or not the resource expected."""


@dataclass
class Ctx:
    """What a route handler gets: the request, the path parameters and the client's EndDevice."""

    request: HttpRequest
    params: dict[str, str]
    client: EndDevice | None


RouteHandler = Callable[["ReferenceApp", Ctx], HttpResponse]


@dataclass(frozen=True)
class Route:
    """A path pattern, the methods the WADL permits on it, and whether unregistered clients may use it."""

    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    handler: RouteHandler
    public: bool = False


def child_text(root: etree._Element, name: str) -> str:
    """Text of the first child called name, or an empty string."""
    found = root.find(f"{{{NS}}}{name}")
    return (found.text or "").strip() if found is not None else ""


# --- route handlers ------------------------------------------------------------------------------


def _dcap(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.device_capability())


def _time(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.time())


def _edev_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    if ctx.request.method == "POST":
        root = app.body(ctx, "EndDevice")
        lfdi_text = child_text(root, "lFDI") or None
        device = app.tree.add_end_device(
            int(child_text(root, "sFDI")),
            lfdi_text.upper() if lfdi_text else None,
            int(child_text(root, "changedTime")),
            DEFAULT_PIN,
            preregistered=False,
        )
        return app.created(f"/edev/{device.index}")
    ascending = "edev-list-wrong-order" in app.defects
    return app.list_response(
        ctx,
        "EndDeviceList",
        app.tree.end_devices_ordered(ascending=ascending),
        app.render.end_device,
        poll_rate=True,
        subscribable=True,
        time_key=lambda d: d.changed_time,
    )


def _edev(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    if ctx.request.method == "DELETE":
        del app.tree.end_devices[device.index]
        return HttpResponse(204)
    if ctx.request.method == "PUT":
        root = app.body(ctx, "EndDevice")
        device.changed_time = int(child_text(root, "changedTime"))
        enabled = child_text(root, "enabled")
        if enabled:
            device.enabled = enabled in ("true", "1")
        return HttpResponse(204)
    return app.xml(app.render.end_device(device))


def _registration(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.registration(app.device(ctx)))


def _stored(kind: str, render: Callable[[Renderer, EndDevice], etree._Element]) -> RouteHandler:
    """A handler for a resource the client may replace with PUT and read back with GET."""

    def handler(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
        device = app.device(ctx)
        if ctx.request.method == "PUT":
            root = app.body(ctx, kind)
            root.attrib.pop("href", None)
            device.stored[kind] = root
            return HttpResponse(204)
        # What the client last PUT is served back; until then, the server's own default.
        stored = app.render.stored(device, kind, ctx.request.path)
        return app.xml(stored if stored is not None else render(app.render, device))

    return handler


def _fsa_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    return app.list_response(
        ctx, "FunctionSetAssignmentsList", [device], app.render.fsa, poll_rate=True, subscribable=True
    )


def _fsa(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    if ctx.params["fsa"] != "1":
        raise KeyError(ctx.params["fsa"])
    return app.xml(app.render.fsa(app.device(ctx)))


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
    ordered = sorted(device.log_events, key=lambda item: -item[0])
    return app.list_response(
        ctx, "LogEventList", ordered, lambda item: item[1], poll_rate=True, subscribable=True,
        time_key=lambda item: item[0],
    )


def _log_event(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    href = ctx.request.path
    for _, element in device.log_events:
        if element.get("href") == href:
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
        return app.created(f"/edev/{device.index}/sub/{index}")
    ordered = [device.subscriptions[k] for k in sorted(device.subscriptions)]
    return app.list_response(ctx, "SubscriptionList", ordered, lambda item: item, poll_rate=True)


def _subscription(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    index = int(ctx.params["sub"])
    if ctx.request.method == "DELETE":
        del device.subscriptions[index]
        return HttpResponse(204)
    return app.xml(device.subscriptions[index])


def _program_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.list_response(
        ctx, "DERProgramList", app.tree.programs_ordered(), app.render.der_program, poll_rate=True,
        subscribable=True,
    )


def _program(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.der_program(app.program(ctx)))


def _default_control(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(app.render.default_der_control(app.program(ctx)))


def _control_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    ordered = sorted(program.controls, key=lambda c: (c.start, c.creation_time))
    return app.list_response(
        ctx, "DERControlList", ordered, lambda c: app.render.der_control(program, c), poll_rate=False,
        subscribable=True, time_key=lambda c: c.start,
    )


def _control(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    program = app.program(ctx)
    wanted = int(ctx.params["derc"])
    for control in program.controls:
        if control.index == wanted:
            return app.xml(app.render.der_control(program, control))
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
    """A handler for a list that clients add to with POST (MirrorUsagePointList, ResponseList)."""

    def handler(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
        items = store(app.tree)
        if ctx.request.method == "POST":
            root = app.body(ctx, *roots)
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
        index = int(ctx.params["item"])
        if ctx.request.method == "DELETE":
            del items[index]
            return HttpResponse(204)
        return app.xml(items[index].element)

    return handler


def _usage_points(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.list_response(ctx, "UsagePointList", [], lambda item: item, poll_rate=True, subscribable=True)


def _route(pattern: str, methods: tuple[str, ...], handler: RouteHandler, *, public: bool = False) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9]{1,9})", pattern)
    return Route(re.compile(regex), methods, handler, public)


_EDEV = "/edev/{edev}"
_DER = _EDEV + "/der/{der}"
ROUTES: tuple[Route, ...] = (
    _route("/dcap", GET, _dcap, public=True),
    _route("/tm", GET, _time, public=True),
    _route("/edev", (*GET, "POST"), _edev_list),
    _route(_EDEV, (*GET, "PUT", "DELETE"), _edev),
    _route(_EDEV + "/rg", GET, _registration),
    _route(_EDEV + "/di", (*GET, "PUT"), _stored("DeviceInformation", Renderer.device_information)),
    _route(_EDEV + "/ps", (*GET, "PUT"), _stored("PowerStatus", Renderer.power_status)),
    _route(_EDEV + "/fsa", GET, _fsa_list),
    _route(_EDEV + "/fsa/{fsa}", GET, _fsa),
    _route(_EDEV + "/der", GET, _der_list),
    _route(_DER, GET, _der),
    _route(_DER + "/dercap", (*GET, "PUT"), _stored("DERCapability", Renderer.der_capability)),
    _route(_DER + "/derg", (*GET, "PUT"), _stored("DERSettings", Renderer.der_settings)),
    _route(_DER + "/ders", (*GET, "PUT"), _stored("DERStatus", Renderer.der_status)),
    _route(_DER + "/dera", (*GET, "PUT"), _stored("DERAvailability", Renderer.der_availability)),
    _route(_EDEV + "/lel", (*GET, "POST"), _log_events),
    _route(_EDEV + "/lel/{lel}", GET, _log_event),
    _route(_EDEV + "/sub", (*GET, "POST"), _subscriptions),
    _route(_EDEV + "/sub/{sub}", (*GET, "DELETE"), _subscription),
    _route("/derp", GET, _program_list),
    _route("/derp/{derp}", GET, _program),
    _route("/derp/{derp}/dderc", GET, _default_control),
    _route("/derp/{derp}/derc", GET, _control_list),
    _route("/derp/{derp}/derc/{derc}", GET, _control),
    _route("/derp/{derp}/dc", GET, _curve_list),
    _route("/derp/{derp}/dc/{dc}", GET, _curve),
    _route("/mup", (*GET, "POST"), _posted_list(
        lambda t: t.mirrors, "MirrorUsagePointList", ("MirrorUsagePoint",), "/mup", poll_rate=True
    )),
    _route("/mup/{item}", (*GET, "DELETE"), _posted_item(lambda t: t.mirrors)),
    _route("/upt", GET, _usage_points),
    _route("/rsps/1/rsp", (*GET, "POST"), _posted_list(
        lambda t: t.responses, "ResponseList", ("Response", "DERControlResponse"), "/rsps/1/rsp",
        poll_rate=False,
    )),
    _route("/rsps/1/rsp/{item}", (*GET, "DELETE"), _posted_item(lambda t: t.responses)),
)


def match_route(path: str) -> tuple[Route | None, dict[str, str]]:
    """The route whose pattern matches path, with its parameters."""
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None, {}
