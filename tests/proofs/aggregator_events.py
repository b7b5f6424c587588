"""Proofs of the aggregator event cases (AGG-002 .. AGG-011): the harness acts as the aggregator of Figure 15.

Each runs on a reference server of its own: the cases set the SY and TFA DefaultDERControls and schedule events
on the server's clock, which other cases sharing a server would disturb.
"""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "AGG-003": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "topology-branch-crossed": (9, "resource.DERProgram: expected anything but"),
        "response-rejected": (14, "status: expected 201, saw 400"),
    },
}
FRESH_SERVER: set[str] = set(PROOFS)
