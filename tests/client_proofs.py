"""The proofs of the client cases: case id -> reference DER client defect -> (failing step, text of the message).

Each case passes against the clean reference DER client and fails under its defect at the step that checks
the broken rule (tests/test_client_verdicts.py).
"""

from __future__ import annotations

CLIENT_PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-003": {"ignores-pollrate": (14, "every 300 s"),
                 "applies-lower-primacy": (13, "DD000000000000000000000000000001")},
    "CORE-005": {"ignores-server-time": (4, "currentTime")},
    "CORE-009": {"posts-enddevice": (8, "does not register itself"), "no-read-back": (7, "GET /edev/1/der/1/dercap")},
    "CORE-010": {"no-list-paging": (4, "GET /edev/1/rg"), "keeps-one-program": (8, "7 item(s) in any order, saw 1")},
    "CORE-012": {"skips-response-2": (7, "'status': '2'"), "ignores-default": (5, "expected 'DefaultDERControl'"),
                 "ignores-controls": (8, "expected 'DERControl'")},
    "CORE-022": {"skips-response-6": (9, "'status': '6'"), "keeps-cancelled": (10, "expected 'DefaultDERControl'")},
    "BASIC-017": {"skips-response-2": (4, "'status': '2'"), "ignores-controls": (5, "expected 'DERControl'"),
                  "keeps-ended-control": (7, "active-control.source: expected 'none'")},
    "CORE-014": {"settings-exceed-rating": (6, "at most its rating"),
                 "misreports-settings": (5, "der-settings.setMaxW: expected 5000"),
                 "var-mode-without-rating": (10, "expected rtgMaxVar with modesSupported bit 6 (opModFixedVar)"),
                 "pf-setting-below-rating": (13, "at least its rating 0.85, saw 0.8")},
    "BASIC-001": {"wrong-lfdi": (4, "GET /edev/1/rg"), "wrong-sfdi": (9, "der-identity.sFDI: expected")},
    "BASIC-027": {"hardcoded-logevent-path": (2, "POST /edev/1/lel"),
                  "misreports-alarm": (3, "last-alarm.logEventCode: expected '1', saw '0'")},
    "COMM-003": {"no-ccm8": (2, "ECDHE-ECDSA-AES128-CCM8")},
}
