"""DERCurves of the reference server: how a curve is stored from a create-dercurve action and served.

IEEE 2030.5-2018 DERCurve (DER function set): an IdentifiedObject with creationTime, 1 to 10 CurveData points
(xvalue, yvalue) in the order the utility gave them, a curveType (DERCurveType: 0 opModFreqWatt, 2
opModHFRTMustTrip, 4 opModHVRTMomentaryCessation, 5 opModHVRTMustTrip, 7 opModLFRTMustTrip, 9
opModLVRTMomentaryCessation, 10 opModLVRTMustTrip, 11 opModVoltVar, 12 opModVoltWatt, ...), the power-of-ten
multipliers of the x and y values, the yRefType (DERUnitRefType) the y values are a percentage of, and
optional settings (openLoopTms, autonomousVRefEnable, ramp times, vRef). A DERControlBase links a curve from
the opMod element of its curve type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lxml import etree

from harness.reference.defects import Defects
from harness.reference.elements import el
from harness.reference.tree import DerCurve, DerProgram, make_mrid

# The optional settings of a DERCurve in the schema's sequence: before creationTime, then after curveType.
SETTINGS_BEFORE = ("autonomousVRefEnable", "autonomousVRefTimeConstant")
SETTINGS_AFTER = ("openLoopTms", "rampDecTms", "rampIncTms", "rampPT1Tms", "vRef")
# create-dercurve parameter -> DERCurve element.
SETTING_PARAMS = {
    "autonomous_vref_enable": "autonomousVRefEnable",
    "autonomous_vref_time_constant": "autonomousVRefTimeConstant",
    "open_loop_tms": "openLoopTms",
    "ramp_dec_tms": "rampDecTms",
    "ramp_inc_tms": "rampIncTms",
    "ramp_pt1_tms": "rampPT1Tms",
    "vref": "vRef",
}


def curve_from_params(program: DerProgram, params: Mapping[str, Any], now: int) -> tuple[DerCurve, bool]:
    """The program's curve for create-dercurve's params: the existing one (False) or a new one (True), not stored.

    The same parameters name the same curve (its mRID derives from them), so asking again changes nothing.
    """
    identity = {key: value for key, value in params.items() if key != "program"}
    mrid = make_mrid("dc", program.index, json.dumps(identity, sort_keys=True))
    for existing in program.curves:
        if existing.mrid == mrid:
            return existing, False
    index = max((c.index for c in program.curves), default=0) + 1
    curve = DerCurve(
        index=index, mrid=mrid, description=f"curve {index} (type {params['curve_type']})", creation_time=now,
        curve_type=params["curve_type"], points=[(int(x), int(y)) for x, y in params["points"]],
        x_multiplier=params["x_multiplier"], y_multiplier=params["y_multiplier"], y_ref_type=params["y_ref_type"],
        settings={element: params[name] for name, element in SETTING_PARAMS.items() if name in params},
    )
    return curve, True


def render_curve(program: DerProgram, curve: DerCurve, defects: Defects) -> etree._Element:
    """A DERCurve as served, children in the schema's order, with the curve defects that are switched on."""
    points = curve.points[::-1] if "curve-points-reordered" in defects else curve.points
    curve_type = curve.curve_type + 1 if "curve-wrong-type" in defects else curve.curve_type
    x_multiplier, y_multiplier = curve.x_multiplier, curve.y_multiplier
    if "curve-multipliers-dropped" in defects:
        x_multiplier = y_multiplier = 0
    settings = {} if "curve-settings-dropped" in defects else curve.settings
    return el(
        "DERCurve",
        el("mRID", text=curve.mrid),
        el("description", text=curve.description),
        *[el(name, text=settings[name]) for name in SETTINGS_BEFORE if name in settings],
        el("creationTime", text=curve.creation_time),
        *[el("CurveData", el("xvalue", text=x), el("yvalue", text=y)) for x, y in points],
        el("curveType", text=curve_type),
        *[el(name, text=settings[name]) for name in SETTINGS_AFTER if name in settings],
        el("xMultiplier", text=x_multiplier),
        el("yMultiplier", text=y_multiplier),
        el("yRefType", text=curve.y_ref_type),
        href=f"/derp/{program.index}/dc/{curve.index}",
    )
