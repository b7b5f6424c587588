"""Coverage of the CSIP catalogue for the DUT's role, and the SunSpec-style per-procedure summary CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from typing import Any

from harness.catalogue import for_role

NOT_RUN = "not_run"
SUMMARY_CSV = "csip-summary.csv"
# Which §4 conformance-matrix column applies to a DUT of each role.
_MATRIX_KIND = {"server": "server", "client": "der_client", "aggregator": "aggregator_client"}
# When one procedure has several tests, the row shows the one that matters most to a lab.
_SEVERITY = {"error": 5, "failed": 4, "passed": 3, "not_applicable": 2, "skipped": 1}
# The SunSpec test results report knows PASS, FAIL and NOT SUPPORTED only; an error is re-run, never reported.
_TRR = {"passed": "PASS", "failed": "FAIL", "not_applicable": "NOT SUPPORTED"}


@dataclass(frozen=True)
class CoverageRow:
    """One catalogue procedure and what this run says about it."""

    procedure: str
    title: str
    section: str
    required: str
    verdict: str
    trr_result: str
    reason: str
    tests: int


def family(procedure_id: str) -> str:
    """The procedure family: the id before its number (CORE, BASIC, COMM, ...)."""
    return procedure_id.split("-", 1)[0] if "-" in procedure_id else procedure_id


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def coverage(document: dict[str, Any]) -> list[CoverageRow]:
    """One row per catalogue procedure for the DUT's role, in catalogue order."""
    role = str((document.get("run", {}).get("dut") or {}).get("role") or "server")
    by_id: dict[str, list[dict[str, Any]]] = {}
    for test in document.get("tests", ()):
        by_id.setdefault(test["id"], []).append(test)
    rows = []
    kind = _MATRIX_KIND.get(role, role)
    for procedure in for_role(role):
        tests = by_id.get(procedure.id, [])
        required = "yes" if kind in procedure.required_for else "no"
        if not tests:
            rows.append(CoverageRow(procedure.id, procedure.title, procedure.section, required, NOT_RUN, "",
                                    "no test case in this run", 0))
            continue
        shown = max(tests, key=lambda t: _SEVERITY.get(t["verdict"], 0))
        rows.append(CoverageRow(procedure.id, procedure.title, procedure.section, required, shown["verdict"],
                                _TRR.get(shown["verdict"], ""), _first_line(shown.get("reason", "")), len(tests)))
    return rows


def summary_csv(rows: list[CoverageRow]) -> str:
    """The per-procedure summary as CSV (header row, then one row per procedure)."""
    buffer = io.StringIO()
    fields = list(CoverageRow.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return buffer.getvalue()
