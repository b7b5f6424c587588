"""Proofs of the utility cases: the harness, with the aggregator certificate, walks the Figure 15 topology."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "UTIL-001": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        # Found by its sFDI (mandatory; lFDI is optional), the aggregator's own EndDevice is missed in the list.
        "wrong-sfdi": (2, "resource.EndDevice: expected an item matching {'sFDI': "),
        "topology-branch-crossed": (16, "resource.DERProgram: expected anything but"),
    },
}
