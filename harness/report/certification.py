"""The certification part of the report: what a lab's ISO/IEC 17025 test report states on its first pages.

From a results document alone: the lab and run identity (the lab file, each field "not given" when absent),
the conclusion per DUT role in one line, the deviations (every failure, error and waiver with its reason),
the coverage with the procedures not tested summarised, the requirement view (each CSIP requirement id the
cases cite, with the verdict aggregated over those cases) and the test equipment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.report.coverage import NOT_RUN, CoverageRow

NOT_GIVEN = "not given"
# A requirement cited by several cases is met only when none of them failed: a failure anywhere decides it,
# then an error (the requirement could not be judged), then a pass; not applicable only when nothing ran.
_REQUIREMENT_ORDER = {"failed": 5, "error": 4, "passed": 3, "not_applicable": 2, "skipped": 1}
# The §4 matrix column a DUT of each role is held to, as the report names it.
MATRIX_COLUMN = {"server": "Server", "client": "DER Client", "aggregator": "Aggregator Client"}


def _text(value: Any) -> str:
    return NOT_GIVEN if value is None or value == "" else str(value)


def lab_rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for every field of the lab file, in report order; a missing one is 'not given'."""
    lab = run.get("lab") or {}
    org = lab.get("lab") or {}
    tester, reviewer, customer = lab.get("tester") or {}, lab.get("reviewer") or {}, lab.get("customer") or {}
    report = lab.get("report") or {}

    def person(who: dict[str, Any]) -> str:
        if not who.get("name"):
            return NOT_GIVEN
        return ", ".join(str(who[key]) for key in ("name", "role", "email") if who.get(key))

    return [
        ("Report number", _text(report.get("number"))),
        ("Revision", _text(report.get("revision"))),
        ("Test laboratory", _text(org.get("name"))),
        ("Laboratory address", _text(org.get("address"))),
        ("Accreditation", _text(org.get("accreditation"))),
        ("Test location", _text(lab.get("location"))),
        ("Customer", _text(customer.get("name"))),
        ("Customer address", _text(customer.get("address"))),
        ("Tester", person(tester)),
        ("Reviewer", person(reviewer)),
        ("Notes", _text(lab.get("notes"))),
    ]


def report_number(run: dict[str, Any]) -> str:
    """The report number with its revision (for every printed page's margin), or 'not given'."""
    report = (run.get("lab") or {}).get("report") or {}
    if not report.get("number"):
        return NOT_GIVEN
    return f"{report['number']}" + (f" rev. {report['revision']}" if report.get("revision") not in (None, "") else "")


@dataclass(frozen=True)
class Deviation:
    """A failure, error or waiver the report must state, with its reason."""

    procedure: str
    anchor: str
    kind: str  # failed, error or waived
    step: str
    reason: str


def deviations(test_views: list[dict[str, Any]]) -> list[Deviation]:
    """Every failed or error test and every waived step, in run order (test views of harness.report.view)."""
    found = []
    for test in test_views:
        if test["verdict"] in ("failed", "error"):
            step = next((s for s in test["steps"] if s["verdict"] in ("failed", "error")), None)
            reason = (step["message"] if step and step["message"] else test["reason"]) or test["verdict"]
            found.append(Deviation(test["id"], test["anchor"], test["verdict"],
                                   str(step["index"]) if step else "", reason.strip().splitlines()[0]))
        for step in test["steps"]:
            if step["verdict"] == "waived":
                found.append(Deviation(test["id"], test["anchor"], "waived", str(step["index"]),
                                       step["waiver"] or "waived in the DUT profile"))
    return found


def conclusions(document: dict[str, Any], rows: list[CoverageRow]) -> list[dict[str, Any]]:
    """The overall outcome per DUT role, one line each: {role, outcome (passed/failed/incomplete), text}."""
    run = document.get("run") or {}
    dut_role = str((run.get("dut") or {}).get("role") or "server")
    tests = document.get("tests") or []
    roles = sorted({str(t.get("role")) for t in tests if t.get("role") in MATRIX_COLUMN} | {dut_role})
    result = []
    for role in roles:
        mine = [t for t in tests if t.get("role") == role or (t.get("role") not in MATRIX_COLUMN and role == dut_role)]
        failed = sorted({t["id"] for t in mine if t["verdict"] == "failed"})
        errors = sorted({t["id"] for t in mine if t["verdict"] == "error"})
        role_rows = rows if role == dut_role else []
        required = [r for r in role_rows if r.required == "yes"]
        required_run = [r for r in required if r.verdict not in (NOT_RUN, "skipped")]
        coverage_note = (f"{len(required_run)} of the {len(required)} procedures the CSIP §4 matrix requires of a "
                         f"{MATRIX_COLUMN.get(role, role)} were run" if required else "")
        if failed:
            outcome = "failed"
            text = f"{len(failed)} procedure(s) failed: {', '.join(failed)}"
            if errors:
                text += f"; {len(errors)} more ended in error: {', '.join(errors)}"
        elif errors or not run.get("complete"):
            outcome = "incomplete"
            why = (f"{len(errors)} procedure(s) ended in error ({', '.join(errors)}) and could not be judged"
                   if errors else "the run was interrupted before its end")
            text = f"Incomplete: {why}; no procedure run failed"
        elif not [t for t in mine if t["verdict"] == "passed"]:
            outcome = "incomplete"
            text = "Incomplete: no procedure was run to a verdict"
        else:
            outcome = "passed"
            text = "Every procedure run passed"
        if coverage_note:
            text += f" ({coverage_note})"
        result.append({"role": role, "outcome": outcome, "text": text})
    return result


def coverage_split(rows: list[CoverageRow]) -> dict[str, Any]:
    """The coverage rows run (shown in full) and those not tested (counted, listed compactly by family)."""
    tested = [row for row in rows if row.verdict != NOT_RUN]
    untested = [row for row in rows if row.verdict == NOT_RUN]
    families: dict[str, list[CoverageRow]] = {}
    for row in untested:
        families.setdefault(row.procedure.split("-", 1)[0], []).append(row)
    return {"tested": tested, "untested": untested, "untested_required": [r for r in untested if r.required == "yes"],
            "untested_by_family": families}


def requirement_view(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each requirement id cited by the run's cases: {id, verdict, cases: [(id, anchor, verdict)]}, sorted by id.

    The verdict aggregates the citing cases: failed when any failed (a passing case elsewhere does not meet a
    requirement another case shows broken), else error, else passed, else not applicable / skipped.
    """
    cited: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        for requirement in test.get("requirements") or ():
            cited.setdefault(str(requirement), []).append(test)
    view = []
    for requirement in sorted(cited, key=_requirement_key):
        cases = cited[requirement]
        verdict = max((c["verdict"] for c in cases), key=lambda v: _REQUIREMENT_ORDER.get(v, 0))
        view.append({"id": requirement, "verdict": verdict,
                     "cases": [(c["id"], c["anchor"], c["verdict"]) for c in cases]})
    return view


def _requirement_key(requirement: str) -> tuple[str, int, str]:
    """BASE.002 before BASE.010 before GEN.001: the prefix, then the number."""
    prefix, _, number = requirement.partition(".")
    return (prefix, int(number) if number.isdigit() else 0, requirement)


def equipment_rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for the test equipment the run recorded (run.equipment), 'not recorded' when absent."""
    equipment = run.get("equipment") or {}
    harness = equipment.get("harness") or {}
    source = harness.get("source")
    if source:
        build = f"git commit {source.get('commit')}" + (" with local changes (dirty tree)" if source.get("dirty")
                                                        else " (clean tree)")
    else:
        build = "installed package (no source checkout)" if equipment else "not recorded"
    libraries = ", ".join(f"{name} {version}" for name, version in (equipment.get("libraries") or {}).items())
    schema = run.get("schema") or {}
    recorded = "not recorded (results written before the harness recorded it)"
    return [
        ("Harness", f"csip-harness {run.get('harness_version') or harness.get('version') or '?'}"),
        ("Harness build", build),
        ("Host", equipment.get("host") or recorded),
        ("Operating system", equipment.get("os") or recorded),
        ("Python", equipment.get("python") or recorded),
        ("OpenSSL", equipment.get("openssl") or recorded),
        ("Libraries", libraries or recorded),
        ("Schema", f"{schema.get('name', '?')} (sha256 {schema.get('sha256', '?')})" if schema else recorded),
        ("Transport / encoding", f"{run.get('transport') or '?'} / {run.get('encoding') or '?'}"),
        ("Time scale", str(run.get("time_scale", 1)) + (" (compressed: a development run, not a certification run)"
                                                        if run.get("time_scale", 1) != 1 else "")),
    ]


def identity_rows(dut: dict[str, Any]) -> list[dict[str, Any]]:
    """Declared (profile device:) against observed (DeviceInformation) per field, with a mismatch flag."""
    from harness.report.identity import DECLARED_ELEMENTS

    declared = dut.get("declared") or {}
    observed = dut.get("device_information") or {}
    rows = [{"label": "Manufacturer", "declared": _text(declared.get("manufacturer")),
             "observed": observed.get("mfInfo") or "—", "element": "mfInfo (not compared)", "mismatch": False}]
    labels = {"manufacturer_id": "Manufacturer id (PEN)", "model": "Model", "serial_number": "Serial number",
              "hardware_version": "Hardware version", "software_version": "Firmware / software version"}
    for field, element in DECLARED_ELEMENTS.items():
        seen = observed.get(element)
        mismatch = field in declared and seen is not None and str(declared[field]).strip() != str(seen).strip()
        rows.append({"label": labels[field], "declared": _text(declared.get(field)),
                     "observed": seen if seen is not None else ("not served" if observed else "not observed"),
                     "element": element, "mismatch": mismatch})
    return rows
