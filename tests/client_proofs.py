"""The proofs of the client cases: case id -> reference DER client defect -> (failing step, text of the message).

Each case passes against the clean reference DER client and fails under its defect at the step that checks
the broken rule (tests/test_client_verdicts.py).
"""

from __future__ import annotations

CLIENT_PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-003": {"ignores-pollrate": (13, "every 300 s")},
}
