"""The bundled catalogue, and every test case agreeing with the procedure it implements."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.catalogue import for_role, procedures
from harness.paths import project_dir


def test_catalogue_holds_every_csip_procedure() -> None:
    catalogue = procedures()
    assert len(catalogue) == 79  # 72 procedures of CSIP v1.3 plus COMM-004 A-G
    core4 = catalogue["CORE-004"]
    assert core4.title == "List Handling" and core4.dut_roles == ("server",) and core4.errata == (4, 15, 16, 17, 29)
    assert catalogue["BASIC-001"].required_for == ("der_client", "aggregator_client", "server")
    assert {p.id for p in for_role("server")} >= {"CORE-001", "CORE-002", "CORE-004", "CORE-005", "BASIC-001"}
    assert "CORE-003" not in {p.id for p in for_role("server")}


@pytest.mark.parametrize("file", sorted(project_dir("testcases").rglob("*.yaml")), ids=lambda p: p.stem)
def test_case_matches_its_catalogue_entry(file: Path) -> None:
    case = load_case(file)
    entry = procedures().get(case.id)
    assert entry is not None, f"{case.id} is not a CSIP v1.3 procedure"
    assert case.title == entry.title
    assert case.role in entry.dut_roles
    assert case.procedure.get("section") == entry.section
    assert set(case.procedure.get("errata", [])) <= set(entry.errata)
    assert case.procedure["version"] == "1.3"


# Server procedures with no case yet, each with why: the list may only shrink, and a case written for one of them
# must leave it (the test below fails both ways), so none is ever missing silently.
NOT_YET_WRITTEN: dict[str, str] = {}


def test_every_server_procedure_has_a_case() -> None:
    written = {path.stem for path in (project_dir("testcases") / "server").glob("*.yaml")}
    # COMM-004 runs as its sub-tests COMM-004A..G, each its own case and its own catalogue entry.
    wanted = {p.id for p in for_role("server")} - {"COMM-004"}
    missing = wanted - written
    assert missing == set(NOT_YET_WRITTEN), (
        f"server procedures without a case: {sorted(missing - set(NOT_YET_WRITTEN))}; "
        f"written but still listed as not yet written: {sorted(set(NOT_YET_WRITTEN) - missing)}")
    assert written <= wanted | {"COMM-004"}, f"cases for no server procedure: {sorted(written - wanted)}"
