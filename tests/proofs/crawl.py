"""Proofs of the later steps of CORE-001 and CORE-002: defects deep in the tree, where only a crawl goes, and the
methods the WADL makes mandatory on a LogEvent the case created.

The reference server answers these wrongly only on resources no other step of the case reads (a DERCurveList
below a DERProgram, the resources below an EndDevice), so the case fails at its crawl step, naming the resource,
the link it came from, what was expected and what was seen.
"""

from __future__ import annotations

PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-001": {
        "curve-list-head-500": (26, "HEAD DERCurveList /derp/1/dc (DERCurveListLink of DERProgram /derp/1 in "
                                    "DERProgramList /derp): expected 200 (HEAD is mandatory wherever GET is, 2030.5 "
                                    "WADL), saw 500"),
        # Not a crawl: the LogEvent the case POSTed is DELETEd (mandatory in the WADL; CORE-001 steps 5 and 9).
        "logevent-delete-refused": (24, "status: expected 200 or 204, saw 405"),
    },
    "CORE-002": {
        "edev-subtree-405-no-allow": (18, "POST EndDevice /edev/1 (item of EndDeviceList /edev): expected 405 with "
                                          "an Allow header listing GET and not POST (RFC 9110 15.5.6), saw Allow "
                                          "absent"),
    },
}
