"""Proofs of the aggregator cases (AGG-001 .. AGG-012): the harness acts as the aggregator of Figure 15.

Each runs on a reference server of its own: the cases set the SY and TFA DefaultDERControls and schedule events
on the server's clock, which other cases sharing a server would disturb.
"""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "AGG-001": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "notification-not-sent": (6, "expected a Notification at "),
        "notification-wrong-resource": (6, "resource.Resource.all: expected 6, saw absent"),
    },
    "AGG-002": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
    },
    "AGG-003": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "response-rejected": (15, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (18, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-004": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (18, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (21, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-005": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (20, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (25, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-006": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (24, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (31, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-007": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (24, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (33, "EventStatus.currentStatus: expected one of 1 Active"),
    },
    "AGG-008": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (24, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (33, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-010": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (24, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (31, "EventStatus.currentStatus: expected 1, saw '0'"),
        "overlap-superseded": (39, "EventStatus.currentStatus: expected 1, saw '4'"),
    },
    "AGG-011": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (24, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (31, "EventStatus.currentStatus: expected 1, saw '0'"),
        "overlap-superseded": (35, "EventStatus.currentStatus: expected 1, saw '4'"),
    },
    "AGG-009": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (22, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (27, "EventStatus.currentStatus: expected 1, saw '0'"),
    },
    "AGG-012": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "dderc-ignores-setting": (13, "resource.DERControlBase.opModFixedPFInjectW: expected"),
        "response-rejected": (22, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (27, "EventStatus.currentStatus: expected 1, saw '0'"),
        "overlap-superseded": (40, "EventStatus.currentStatus: expected 1, saw '4'"),
    },
}
FRESH_SERVER: set[str] = set(PROOFS)
