"""Named defects of the reference DER client: each makes it break one rule a CSIP client procedure checks.

A client-role self-test runs each case against the clean client (it must pass) and against the defect made
for it (it must fail at the step that checks the broken rule).
"""

from __future__ import annotations

from collections.abc import Iterable

DER_CLIENT_DEFECTS: dict[str, str] = {
    "ignores-pollrate": "polls every resource every 60 s of its clock, whatever pollRate the server advertises "
                        "(CORE-003)",
    "wrong-lfdi": "looks for its EndDevice under a wrong lFDI (last hex digit changed): it never finds it, "
                  "reports the error and walks no further (BASIC-001, CORE-003)",
    "skips-response-2": "never POSTs the Response status 2 (event started) that responseRequired asks for "
                        "(CORE-012, CORE-022, BASIC-017)",
    "skips-response-6": "never POSTs the Response status 6 (event cancelled) after the server cancels an event "
                        "(CORE-022)",
    "applies-lower-primacy": "lets the program with the higher primacy value (the less important one) win: its "
                             "events supersede and its DefaultDERControl applies",
    "no-randomisation": "ignores randomizeStart and randomizeDuration: every event starts and ends at its exact "
                        "interval",
    "hardcoded-logevent-path": "POSTs its LogEvents to /lel instead of its EndDevice's LogEventListLink "
                               "(BASIC-027)",
    "ignores-server-time": "stamps what it sends with its own clock, not the server's Time (CORE-005)",
    "posts-enddevice": "POSTs its EndDevice to the EndDeviceList although it is pre-registered (CORE-009)",
    "no-list-paging": "reads each list once without s/l and keeps the first page only (CORE-010)",
    "settings-exceed-rating": "PUTs a DERSettings whose setMaxW is above its DERCapability rtgMaxW (CORE-014)",
    "var-mode-without-rating": "declares opModFixedVar (modesSupported bit 6) in its DERCapability without the "
                               "rtgMaxVar that mode makes mandatory (CORE-014, errata 39)",
    "pf-setting-below-rating": "PUTs a DERSettings whose setMinPFOverExcited (0.80) is below its DERCapability "
                               "rtgMinPFOverExcited (0.85) (CORE-014)",
    "no-ccm8": "offers no TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (0xC0AE) in its ClientHello (COMM-003)",
    "ignores-controls": "POSTs every Response an event asks for, on time, but never applies a DERControl: what it "
                        "had in force stays (only an observation of the control applied sees it: BASIC-017, CORE-012)",
    "ignores-default": "never applies a DefaultDERControl: between events nothing is in force (an observation: "
                       "CORE-012)",
    "keeps-ended-control": "where no DefaultDERControl is in force, keeps applying an event's control after the "
                           "event completes instead of returning to its own settings (an observation: BASIC-017)",
    "keeps-one-program": "reads the whole DERProgramList but keeps only its highest-priority program (an "
                         "observation of the programs it holds: CORE-010)",
    "keeps-cancelled": "answers Response 6 when the server cancels an active event but keeps applying it to its "
                       "scheduled end (an observation: CORE-022)",
    "wrong-sfdi": "computes its sFDI without the check digit; it finds its EndDevice by lFDI and walks on, "
                  "ignoring that the sFDI served differs (an observation of its identity: BASIC-001)",
    "misreports-alarm": "POSTs its LogEvents to the right list, well formed, but with the logEventCode of another "
                        "error than the alarm it raised (an observation of the alarm: BASIC-027)",
    "misreports-settings": "is configured to setMaxW 4000 W but PUTs a DERSettings saying 5000 W, its rating (an "
                           "observation of its settings: CORE-014)",
    "no-read-back": "never GETs back the DERCapability and DERSettings it PUT (CORE-009)",
}


class UnknownDerClientDefectError(ValueError):
    """A defect name the reference DER client does not know."""


def validate_der_client_defects(names: Iterable[str]) -> frozenset[str]:
    """The defect names as a set; raises UnknownDerClientDefectError naming the unknown ones and the known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - DER_CLIENT_DEFECTS.keys())
    if unknown:
        raise UnknownDerClientDefectError(
            f"expected DER client defects among {', '.join(sorted(DER_CLIENT_DEFECTS))}; saw {', '.join(unknown)}"
        )
    return chosen
