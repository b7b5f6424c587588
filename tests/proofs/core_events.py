"""Proofs of the CORE event cases (CORE-013, CORE-021, CORE-023): under each named defect the case fails at this
step with this text. Each runs on a reference server of its own, whose clock runs 1/TIME_SCALE times as fast."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-013": {
        "invalid-dercontrol": (18, "in DERControl: expected mRID"),
        "dderc-ignores-setting": (39, "resource.DERControlBase.opModFixedPFInjectW: expected quantity"),
        "event-status-always-scheduled": (41, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "CORE-021": {
        "randomization-dropped": (13, "resource.DERControl: expected an item matching"),
        "invalid-dercontrol": (11, "in DERControl: expected mRID"),
        "event-status-always-scheduled": (20, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "CORE-023": {
        "response-rejected": (15, "status: expected 201 or 200, saw 400"),
        "event-status-always-scheduled": (21, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
        "post-missing-location": (15, "headers.Location: expected present, saw absent"),
    },
}
FRESH_SERVER = {"CORE-013", "CORE-021", "CORE-023"}
