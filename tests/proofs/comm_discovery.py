"""Proofs of COMM-001 (xmDNS/DNS-SD discovery, optional): under each named defect of the reference server's
responder the case fails at this step with this text. The server answers on 239.255.255.251 at a UDP port of its
own, so parallel servers never answer each other's queries."""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "COMM-001": {
        "xmdns-dcap-no-slash": (1, "the dcap key must be present with a leading '/'; saw dcap='dcap'"),
        "xmdns-no-https-key": (1, "the https key must be present when the server offers HTTPS"),
        "xmdns-qu-ignored": (3, "SEC.109: the query had the QU bit on, so the answer must be unicast"),
    },
}
