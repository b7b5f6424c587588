"""An action step whose `requires:` the profile does not declare is not needed: the case runs without it.

CORE-004 reads the EndDeviceList an aggregator sees only where the profile declares `aggregator`; a DUT without
aggregators still runs every other step of the case, and the dry run says the same.
"""

from __future__ import annotations

from pathlib import Path

from harness.cases.loader import load_case
from harness.cases.plan import plan_case
from harness.cases.profile import load_profile
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.results import NOT_APPLICABLE, PASSED
from harness.session import HarnessSession, RunOptions

CORE_004 = project_dir("testcases") / "server" / "CORE-004.yaml"
REFERENCE = project_dir("fixtures") / "profiles" / "reference-server.yaml"


def without_aggregator(tmp_path: Path) -> Path:
    profile = tmp_path / "profile.yaml"
    text = REFERENCE.read_text()
    assert "  - aggregator\n" in text
    profile.write_text(text.replace("  - aggregator\n", ""))
    return profile


def test_a_dut_without_aggregators_runs_core_004_without_its_aggregator_steps(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    client = pki.clients["client"]
    session = HarnessSession(RunOptions(
        dut=reference_server.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
        profile=str(without_aggregator(tmp_path)), out=str(tmp_path / "out"),
        variables=reference_server.admin_variables(), unattended=True))
    try:
        record = session.run(load_case(CORE_004))
    finally:
        session.close()
    assert record.verdict == PASSED, record.reason
    skipped = [s for s in record.steps if s.verdict == NOT_APPLICABLE and "aggregator" in s.message]
    assert [s.index for s in skipped] == list(range(20, 27))
    assert all(s.message == "the DUT profile does not declare: aggregator" for s in skipped)
    assert not any(a.name == "create-aggregator-enddevices" for a in record.actions)


def test_the_dry_run_needs_no_mapping_for_an_action_step_that_will_not_run(tmp_path: Path) -> None:
    profile = without_aggregator(tmp_path)
    text = profile.read_text()
    profile.write_text(text.replace("  create-aggregator-enddevices: {builtin: {}}\n", ""))
    plan = plan_case(load_case(CORE_004), load_profile(profile))
    assert plan.runs, plan.reason
    assert "step 26 would be not applicable: the DUT profile does not declare: aggregator" in plan.notes
