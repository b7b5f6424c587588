"""COMM-003 and a server that lets a certificate it has not registered read what registration protects.

No CSIP procedure's text asks a server to refuse such reads (COMM-003's criteria are the TLS session of the
harness's own certificate; IEEE 2030.5-2018 §6.2.1 and §6.4 leave the access control lists to the server), so
under the reference defect `unregistered-client-allowed` COMM-003 passes and reports each read as a warning
finding, the registered device's Registration (its PIN, §6.9) among them.
"""

from __future__ import annotations

from pathlib import Path

from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import spawn_reference_server
from harness.results import PASSED
from tests.casekit import run_case

CASE = project_dir("testcases") / "server" / "COMM-003.yaml"


def test_an_unregistered_certificate_reading_a_registration_is_a_warning_never_a_failure(pki: TestPki,
                                                                                         tmp_path: Path) -> None:
    with spawn_reference_server(pki, defects=["unregistered-client-allowed"]).wait_ready(60) as server:
        record = run_case(server, pki, CASE, out=str(tmp_path))
    assert record.verdict == PASSED, record.reason
    warned = {step.index for step in record.steps
              if any(f.severity == "warning" and "expected the server to refuse the certificate" in f.message
                     for f in step.findings)}
    registration = next(step for step in record.steps if "Registration, its PIN" in step.name)
    # The registered device's EndDevice and Registration, the EndDeviceList and the shared DERProgramList.
    assert {3, registration.index, 10, 11} <= warned, [(s.index, s.verdict, s.findings) for s in record.steps]
