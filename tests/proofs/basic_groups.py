"""Proofs of BASIC-003 (Advanced Group Management): a feeder change the server does not make, and a default it
does not serve as set, fail the case where the client would see them."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "BASIC-003": {
        "topology-change-ignored": (23, "resource.FunctionSetAssignments: expected anything but {'contains': "
                                        "[{'mRID': {'hex':"),
        "dderc-ignores-setting": (20, "resource.DERControlBase.opModFixedPFInjectW: expected quantity"),
    },
}
