"""Proofs of the utility cases: the harness, with the aggregator certificate, walks the Figure 15 topology."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "UTIL-001": {
        "aggregator-sees-own-only": (2, "resource.EndDevice: expected an item matching"),
        "wrong-sfdi": (3, "resource.sFDI: expected"),
        "topology-branch-crossed": (16, "resource.DERProgram: expected anything but"),
    },
}
