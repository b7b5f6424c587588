"""Proofs of the inverter-control cases BASIC-004 .. BASIC-015: the curve, default and control defects fail them.

Each case's failing step is where 2030.5 says the served value must be what the server was told: a DERCurve's
CurveData in order, its curveType, multipliers and settings; a DefaultDERControl's settings; a DERControl's modes;
a cancelled event's status.
"""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "BASIC-004": {
        "curve-points-reordered": (16, "resource.CurveData[0].xvalue: expected 0, saw '1200'"),
    },
    "BASIC-005": {
        "curve-wrong-type": (13, "save hfrt_mt: expected a value at DERCurve[curveType=2].href"),
    },
    "BASIC-006": {
        "curve-settings-dropped": (13, "resource.openLoopTms: expected 5, saw absent"),
        "event-status-always-scheduled": (20, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "BASIC-007": {
        "dderc-drops-settings": (10, "resource.setGradW: expected 9000, saw absent"),
    },
    "BASIC-008": {
        "dercontrol-drops-mode": (14, "resource.DERControlBase: expected an element with opModFixedPFInjectW"),
        "response-rejected": (15, "status: expected 200 or 201, saw 400"),
    },
    "BASIC-009": {
        "dercontrol-drops-mode": (14, "resource.DERControlBase.opModEnergize: expected True, saw absent"),
    },
    "BASIC-010": {
        "dercontrol-drops-mode": (14, "resource.DERControlBase: expected an element with opModMaxLimW"),
    },
    "BASIC-011": {
        "curve-points-reordered": (13, "resource.CurveData[0].xvalue: expected 10000, saw '10900'"),
    },
    "BASIC-012": {
        "curve-multipliers-dropped": (13, "resource.xMultiplier: expected -2, saw '0'"),
        "dercontrol-drops-mode": (17, "resource.DERControlBase.opModFreqWatt: expected an element with href"),
    },
    "BASIC-013": {
        "dercontrol-drops-mode": (14, "resource.DERControlBase: expected an element with opModFixedW"),
    },
    "BASIC-014": {
        "dercontrol-drops-mode": (14, "resource.DERControlBase: expected an element with opModTargetW"),
    },
    "BASIC-015": {
        "cancelled-event-stays-scheduled": (26, "resource.DERControl: expected an item matching"),
        "response-rejected": (18, "status: expected 200 or 201, saw 400"),
    },
}
# The event cases wait on the server's clock: each runs on a server of its own at TIME_SCALE, where 2 min take 1.2 s.
FRESH_SERVER = {"BASIC-004", "BASIC-005", "BASIC-006", "BASIC-008", "BASIC-009", "BASIC-010", "BASIC-011",
                "BASIC-012", "BASIC-013", "BASIC-014", "BASIC-015"}
