"""Proofs of UTIL-002 .. UTIL-004: the harness, with the aggregator certificate, commissions itself against the
Figure 15 topology, reads its group assignments and subscribes to them, and answers the events of its groups."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "UTIL-002": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        # Found by its sFDI (mandatory; lFDI is optional), the aggregator's own EndDevice is missed in the list.
        "wrong-sfdi": (2, "resource.EndDevice: expected an item matching {'sFDI': "),
        "wrong-pin": (4, "resource.pIN: expected 111115, saw '111116'"),
        "der-put-not-stored": (8, "resource.rtgMaxW: expected the quantity 7000"),
    },
    "UTIL-003": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (6, "resource.all: expected 7, saw '11'"),
        "subscription-no-location": (8, "headers.Location: expected present, saw absent"),
    },
    "UTIL-004": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (4, "resource.all: expected 7, saw '11'"),
        "notification-not-sent": (19, "expected a Notification at "),
        "notification-wrong-resource": (19, "resource.Resource.href: expected a reference to the same resource as"),
        "response-rejected": (22, "status: expected 200 or 201, saw 400"),
        "event-status-always-scheduled": (24, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
    },
}
# UTIL-004 schedules events on the server's clock, which other cases sharing a server would disturb.
FRESH_SERVER: set[str] = {"UTIL-004"}
