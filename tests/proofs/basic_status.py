"""Proofs of BASIC-028 (Inverter Status): the server answers the DERStatus PUT 204 and serves back what was put."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "BASIC-028": {
        "der-put-returns-200": (11, "status: expected 204, saw 200"),
        "der-put-not-stored": (12, "resource.genConnectStatus: expected an element with dateTime, value, saw nothing"),
    },
}
