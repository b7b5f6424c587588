"""Routes of an EndDevice's FunctionSetAssignments: the list, each FSA, and each FSA's DERProgramList.

An EndDevice given no topology (harness.reference.topology) has one FunctionSetAssignments linking the
DERProgramList DeviceCapability links; one given a topology has the FSAs of its path, each with its own list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from harness.reference.elements import child
from harness.reference.routing import GET, Ctx, Route, route
from harness.reference.topology import Fsa, fsa_programs, ordered_fsas, render_fsa
from harness.reference.tree import DerProgram
from harness.server.http import HttpResponse

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp


def _fsa_list(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    subscribable = "fsa-list-not-subscribable" not in app.defects
    if not device.fsas:
        return app.list_response(
            ctx, "FunctionSetAssignmentsList", [device], app.render.fsa, poll_rate=True, subscribable=subscribable
        )
    return app.list_response(
        ctx, "FunctionSetAssignmentsList", ordered_fsas(device), lambda f: _render(app, ctx, f), poll_rate=True,
        subscribable=subscribable,
    )


def _find(app: ReferenceApp, ctx: Ctx) -> Fsa:
    wanted = int(ctx.params["fsa"])
    for fsa in app.device(ctx).fsas:
        if fsa.index == wanted:
            return fsa
    raise KeyError(wanted)


def _render(app: ReferenceApp, ctx: Ctx, fsa: Fsa) -> etree._Element:
    time_link = "fsa-missing-time-link" not in app.defects
    return render_fsa(app.device(ctx), fsa, len(fsa.programs), time_link=time_link)


def _fsa(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    device = app.device(ctx)
    if not device.fsas:
        if ctx.params["fsa"] != "1":
            raise KeyError(ctx.params["fsa"])
        return app.xml(app.render.fsa(device))
    return app.xml(_render(app, ctx, _find(app, ctx)))


def _fsa_programs(app: ReferenceApp, ctx: Ctx) -> HttpResponse:
    programs = fsa_programs(app.tree, _find(app, ctx), reverse="fsa-derp-list-wrong-order" in app.defects)
    return app.list_response(ctx, "DERProgramList", programs, lambda p: _program(app, p), poll_rate=True,
                             subscribable=True)


def _program(app: ReferenceApp, program: DerProgram) -> etree._Element:
    element = app.render.der_program(program)
    if "group-primacy-inverted" in app.defects and not program.listed:
        found = child(element, "primacy")
        if found is not None:  # the defect: the service point's program made the least important
            found.text = str(14 - program.primacy)
    return element


_FSA = "/edev/{edev}/fsa"
FSA_ROUTES: tuple[Route, ...] = (
    route(_FSA, GET, _fsa_list),
    route(_FSA + "/{fsa}", GET, _fsa),
    route(_FSA + "/{fsa}/derp", GET, _fsa_programs),
)
