"""Routes of the Metering Mirror (/mup) and of the metering UsagePoints it feeds (/upt).

POST /mup creates a mirror (201 with its Location) or, for an mRID that exists, overwrites it (204 with its
Location; rule a.4). POST /mup/{n} takes a MirrorMeterReading (Location: its MeterReading, rule f) or a
MirrorMeterReadingList (Location: the MeterReadingList, rule g): 201 when it created a MeterReading, 204 when it
only updated existing ones. A MirrorMeterReading with a new mRID and no ReadingType is 400 (rule h.3), a body
that is neither is 400 with an Error. Only the client that created a mirror may post to it (rule e) or see it.

List orders: MirrorUsagePointList, UsagePointList and MeterReadingList by mRID ascending; ReadingSetList by
timePeriod.start descending, then mRID descending (a= filters on the start); ReadingList in posted order (for
interval data that is localID order, which 2030.5 assigns in order of creation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.reference import clock, metering_render
from harness.reference.elements import children, local
from harness.reference.metering import (
    MeterReading,
    Mirror,
    MirrorError,
    apply_meter_reading,
    check_meter_readings,
    mrid_of,
    new_mirror,
    overwrite_mirror,
)
from harness.reference.routing import GET, BadBody, Ctx, Forbidden, Route, route
from harness.server.http import HttpResponse

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp

__all__ = ["METERING_ROUTES"]


def _mirror(app: ReferenceApp, ctx: Ctx) -> Mirror:
    """The mirror named by {mup} or {upt} (its existence and owner are checked before the handler runs)."""
    index = int(ctx.params.get("mup") or ctx.params["upt"])
    mirror = app.tree.mirrors[index]
    if "upt" in ctx.params and "upt-empty" in app.defects:
        raise KeyError(index)  # the defect: nothing ever reaches /upt
    return mirror


def _meter_reading(app: ReferenceApp, ctx: Ctx) -> tuple[Mirror, MeterReading]:
    mirror = _mirror(app, ctx)
    return mirror, mirror.meter_reading(int(ctx.params["mr"]))


def _descending(mrid: str) -> str:
    """A sort key that orders mRIDs (upper-case hex of one length) descending."""
    return "".join(chr(0x10FFFF - ord(c)) for c in mrid)


def _as_posted(app: ReferenceApp) -> bool:
    return "mup-get-includes-readings" in app.defects


# --- /mup ----------------------------------------------------------------------------------------


def _mirror_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    if ctx.request.method == "POST":
        return _post_mirror(app, ctx)
    return app.list_response(
        ctx, "MirrorUsagePointList", app.render.visible_mirrors(ctx.scope),
        lambda m: metering_render.mirror_usage_point(m, as_posted=_as_posted(app)), poll_rate=True,
    )


def _post_mirror(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    root = app.body(ctx, "MirrorUsagePoint")
    posted = children(root, "MirrorMeterReading")
    existing = None if "mup-duplicate-mrid" in app.defects else app.tree.mirror_by_mrid(mrid_of(root))
    if existing is not None and not ctx.scope.may_access_mirror(existing.owner_lfdi):
        raise Forbidden(f"MirrorUsagePoint {existing.mrid} belongs to another client")  # rule e
    try:
        check_meter_readings(existing, posted)
    except MirrorError as exc:
        raise BadBody(str(exc), 1) from None
    if existing is not None:
        overwrite_mirror(existing, root)
        for mmr in posted:
            apply_meter_reading(existing, mmr)
        # Rule a.4: written over the existing mirror, 204 No Content with the mirror's Location.
        return HttpResponse(204, [("Location", metering_render.mirror_href(existing))])
    mirror = new_mirror(app.tree.next_mirror, ctx.scope.lfdi, clock.now(), root)
    app.tree.next_mirror += 1
    for mmr in posted:
        apply_meter_reading(mirror, mmr)
    app.tree.add_mirror(mirror)
    return app.created(metering_render.mirror_href(mirror))


def _mirror_item(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror = _mirror(app, ctx)
    if ctx.request.method == "DELETE":
        app.tree.remove_mirror(mirror.index)  # its UsagePoint goes with it (rule l)
        return HttpResponse(204)
    if ctx.request.method == "POST":
        return _post_readings(app, ctx, mirror)
    return app.xml(metering_render.mirror_usage_point(mirror, as_posted=_as_posted(app)))


def _post_readings(app: ReferenceApp, ctx: Ctx, mirror: Mirror) -> HttpResponse:
    """POST of a MirrorMeterReading or MirrorMeterReadingList to a mirror (rules d, f, g, h, i)."""
    if "mup-readings-refused" in app.defects:
        return HttpResponse(405, [("Allow", "GET, HEAD, DELETE")])
    root = app.body(ctx, "MirrorMeterReading", "MirrorMeterReadingList")
    single = local(root) == "MirrorMeterReading"
    posted = [root] if single else children(root, "MirrorMeterReading")
    try:
        check_meter_readings(mirror, posted)
    except MirrorError as exc:
        raise BadBody(str(exc), 1) from None
    applied = [apply_meter_reading(mirror, mmr) for mmr in posted]
    if single:
        location = metering_render.meter_reading_href(mirror, applied[0][0])
    else:
        location = f"{metering_render.usage_point_href(mirror)}/mr"
    if any(created for _, created in applied):
        return app.created(location)
    return HttpResponse(204, [("Location", location)])


# --- /upt ----------------------------------------------------------------------------------------


def _usage_points(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.list_response(
        ctx, "UsagePointList", app.render.visible_mirrors(ctx.scope, usage_points=True),
        metering_render.usage_point, poll_rate=True, subscribable=True,
    )


def _usage_point(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(metering_render.usage_point(_mirror(app, ctx)))


def _meter_readings(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror = _mirror(app, ctx)
    ordered = sorted(mirror.meter_readings.values(), key=lambda m: m.mrid)
    return app.list_response(
        ctx, "MeterReadingList", ordered, lambda m: metering_render.meter_reading(mirror, m), poll_rate=False,
        subscribable=True,
    )


def _meter_reading_item(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(metering_render.meter_reading(*_meter_reading(app, ctx)))


def _reading_type(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(metering_render.reading_type(*_meter_reading(app, ctx)))


def _latest_reading(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    return app.xml(metering_render.latest_reading(*_meter_reading(app, ctx)))


def _reading_sets(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror, meter_reading = _meter_reading(app, ctx)
    ordered = sorted(meter_reading.reading_sets.values(), key=lambda s: (-s.start, _descending(s.mrid)))
    return app.list_response(
        ctx, "ReadingSetList", ordered, lambda s: metering_render.reading_set(mirror, meter_reading, s),
        poll_rate=False, subscribable=True, time_key=lambda s: s.start,
    )


def _reading_set(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror, meter_reading = _meter_reading(app, ctx)
    reading_set = meter_reading.reading_set(int(ctx.params["rs"]))
    return app.xml(metering_render.reading_set(mirror, meter_reading, reading_set))


def _readings(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror, meter_reading = _meter_reading(app, ctx)
    reading_set = meter_reading.reading_set(int(ctx.params["rs"]))
    return app.list_response(
        ctx, "ReadingList", list(range(len(reading_set.readings))),
        lambda position: metering_render.reading(mirror, meter_reading, reading_set, position), poll_rate=False,
        subscribable=True,
    )


def _reading(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    mirror, meter_reading = _meter_reading(app, ctx)
    reading_set = meter_reading.reading_set(int(ctx.params["rs"]))
    position = int(ctx.params["r"]) - 1
    if not 0 <= position < len(reading_set.readings):
        raise KeyError(position)
    return app.xml(metering_render.reading(mirror, meter_reading, reading_set, position))


_MR = "/upt/{upt}/mr/{mr}"
_RS = _MR + "/rs/{rs}"
METERING_ROUTES: tuple[Route, ...] = (
    route("/mup", (*GET, "POST"), _mirror_list),
    route("/mup/{mup}", (*GET, "POST", "DELETE"), _mirror_item),
    route("/upt", GET, _usage_points),
    route("/upt/{upt}", GET, _usage_point),
    route("/upt/{upt}/mr", GET, _meter_readings),
    route(_MR, GET, _meter_reading_item),
    route(_MR + "/rt", GET, _reading_type),
    route(_MR + "/r", GET, _latest_reading),
    route(_MR + "/rs", GET, _reading_sets),
    route(_RS, GET, _reading_set),
    route(_RS + "/r", GET, _readings),
    route(_RS + "/r/{r}", GET, _reading),
)
