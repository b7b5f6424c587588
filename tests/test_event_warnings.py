"""What 2030.5 advises and the event procedures do not require is a warning finding, never a failure.

An event still listed as 1 Active after its end (2030.5 has no "completed" status and no SHALL that the server
change or drop it) and a DERControlList out of its 2030.5 order (no event procedure's pass criterion names it)
each leave the case passed, with a warning finding at the step that saw it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import spawn_reference_server
from harness.results import PASSED
from harness.session import HarnessSession, RunOptions

PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"
CASES = project_dir("testcases") / "server"


@pytest.mark.parametrize(("case_id", "defect", "step", "text"), [
    ("BASIC-017", "ended-event-listed", 16, "not 1 Active once the event has ended"),
    ("BASIC-019", "dercontrol-list-latest-first", 11, "expected DERControlList order (IEEE 2030.5"),
    ("CORE-012", "ended-event-listed", 23, "not 1 Active once the event has ended"),
    ("CORE-022", "dercontrol-list-latest-first", 23, "expected DERControlList order (IEEE 2030.5"),
])
def test_an_advised_relation_broken_is_a_warning_at_its_step(pki: TestPki, tmp_path: Path, case_id: str,
                                                             defect: str, step: int, text: str) -> None:
    client = pki.clients["client"]
    with spawn_reference_server(pki, defects=[defect], time_scale=0.01).wait_ready(60) as server:
        session = HarnessSession(RunOptions(
            dut=server.base_url, http_url=server.http_url, cert=str(client.cert), key=str(client.key),
            ca=str(pki.ca), profile=str(PROFILE), out=str(tmp_path), variables=server.admin_variables(),
            unattended=True, time_scale=server.time_scale, time_origin=server.time_origin))
        try:
            record = session.run(load_case(CASES / f"{case_id}.yaml"))
        finally:
            session.close()
    assert record.verdict == PASSED, record.reason
    warned = [f for f in record.steps[step - 1].findings if f.severity == "warning" and text in f.message]
    assert warned, [(f.severity, f.message) for f in record.steps[step - 1].findings]
