"""Proofs of the Subscription/Notification cases (CORE-018, CORE-019, ERR-002): under each named defect the case
fails at this step with this text. Each runs on a server of its own at time scale 0.01, so an `await` that no
Notification satisfies gives up after a hundredth of its DUT-clock limit."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-018": {
        "fsa-list-not-subscribable": (5, "resource.subscribable: expected"),
        "subscription-no-location": (6, "headers.Location: expected present, saw absent"),
        "notification-not-sent": (9, "within 60 s on the DUT's clock (0.60 s at time scale 0.01), saw none"),
        "notification-wrong-resource": (9, "resource.Resource.FunctionSetAssignments: expected contains"),
    },
    "CORE-019": {
        "edev-not-subscribable": (3, "resource.subscribable: expected"),
        "subscription-no-location": (5, "headers.Location: expected present, saw absent"),
        "notification-not-sent": (10, "(subscription /edev/"),
        "notification-sent-twice": (11, "expected no further Notification at"),
    },
    "ERR-002": {
        "subscriptions-lost-on-reset": (7, "status: expected 200, saw 404"),
        "notification-ignores-limit": (9, "resource.Resource.results: expected 1, saw '2'"),
        "cancellation-status-0": (12, "resource.status: expected 1, saw '0'"),
        "subscription-kept-after-400": (16, "status: expected 404, saw 200"),
    },
}
FRESH_SERVER = {"CORE-018", "CORE-019", "ERR-002"}
PROOFS["MAINT-001"] = {
    "aggregator-sees-own-only": (2, "resource.EndDevice"),
    "edev-not-subscribable": (4, "resource.subscribable: expected"),
    "notification-ignores-limit": (9, "resource.Resource.results: expected"),
    "deleted-enddevice-not-notified": (10, "(subscription /edev/1/sub/2) within 60 s on the DUT's clock"),
}
FRESH_SERVER |= {"MAINT-001"}
PROOFS["MAINT-002"] = {
    "edev-delete-refused": (8, "status: expected 200 or 204, saw 405"),
    "notification-ignores-limit": (9, "resource.Resource.results: expected"),
    "deleted-enddevice-not-notified": (10, "(subscription /edev/1/sub/2) within 60 s on the DUT's clock"),
}
FRESH_SERVER |= {"MAINT-002"}
PROOFS["MAINT-003"] = {
    "aggregator-sees-own-only": (2, "resource.EndDevice"),
    "topology-branch-crossed": (6, "resource.DERProgram: expected anything but"),
    "notification-not-sent": (14, "(subscription /edev/1/sub/3) within 60 s on the DUT's clock"),
}
FRESH_SERVER |= {"MAINT-003"}
PROOFS["MAINT-004"] = {
    "notification-not-sent": (13, "(subscription /edev/1/sub/1) within 60 s on the DUT's clock"),
    "notification-ignores-limit": (13, "resource.Resource.results: expected"),
    "response-rejected": (17, "status: expected 201 or 200, saw 400"),
}
FRESH_SERVER |= {"MAINT-004"}
PROOFS["MAINT-005"] = {
    "fsa-derp-list-wrong-order": (14, "expected items ordered by primacy"),
    "notification-not-sent": (21, "(subscription /edev/1/sub/1) within 60 s on the DUT's clock"),
    "notification-wrong-resource": (21, "resource.Resource.DERProgram: expected any of"),
}
FRESH_SERVER |= {"MAINT-005"}
