"""Proofs of CORE-012 (Basic DER Program/Control) and CORE-022 (Responses): under each named defect the case fails
at this step with this text. Each runs on a reference server of its own, whose clock runs 1/TIME_SCALE times as
fast, since both wait for their events on the server's clock."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-012": {
        "curve-points-reordered": (9, "resource.CurveData[0].xvalue: expected 10000, saw '10900'"),
        "dderc-ignores-setting": (12, "resource.DERControlBase.opModFixedPFInjectW: expected quantity"),
        "invalid-dercontrol": (15, "in DERControl: expected mRID"),
        "dercontrol-drops-mode": (16, "resource.DERControlBase.opModVoltWatt: expected an element with href"),
        "event-status-always-scheduled": (19, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "CORE-022": {
        "dercontrol-drops-mode": (23, "resource.DERControl: expected an item matching"),
        "response-rejected": (26, "status: expected 200 or 201, saw 400"),
        "post-missing-location": (26, "headers.Location: expected present, saw absent"),
        "event-status-always-scheduled": (30, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
        "event-status-date-stale": (30, "resource.EventStatus.dateTime: expected a number >= "),
        "cancelled-event-stays-scheduled": (34, "resource.EventStatus.currentStatus: expected 2, saw '1'"),
    },
}
FRESH_SERVER = {"CORE-012", "CORE-022"}
