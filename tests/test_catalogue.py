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
