"""Proofs of the two-program event cases BASIC-016, 021, 022, 023 and 026 (SY and SP of figure 1).

Each fails where the procedure needs the server: a default served as set, a Response accepted at replyTo, an
event Active once started, a control served as scheduled, and independent events not superseded.
"""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "BASIC-016": {
        "dderc-ignores-setting": (10, "resource.DERControlBase.opModFixedPFInjectW: expected quantity"),
    },
    "BASIC-021": {
        "response-rejected": (19, "status: expected 201, saw 400"),
        "event-status-always-scheduled": (24, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "BASIC-022": {
        "dercontrol-drops-mode": (18, "resource.DERControlBase: expected an element with opModFixedPFInjectW"),
    },
    "BASIC-023": {
        "event-status-always-scheduled": (19, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
        "response-rejected": (17, "status: expected 201, saw 400"),
    },
    "BASIC-026": {
        "overlap-superseded": (32, "resource.EventStatus.currentStatus: expected 1, saw '4'"),
        "dercontrol-drops-mode": (18, "resource.DERControlBase: expected an element with opModFixedPFInjectW"),
    },
}
# The event cases wait on the server's clock: each runs on a server of its own at TIME_SCALE.
FRESH_SERVER = {"BASIC-021", "BASIC-022", "BASIC-023", "BASIC-026"}
