"""What IEEE 2030.5 allows a server never fails a case whose procedure does not print otherwise.

- The 2030.5 WADL answers a SubscriptionList or ResponseList POST 200 or 201, each with a Location. A server
  answering 200 (the reference server's `post-returns-200`) passes the cases whose pass criteria print no status,
  with a `should: status` warning at each such POST; where the pass criteria print "201 Created" (CORE-018) it
  still fails.
- sFDI is mandatory in a 2030.5-2018 EndDevice and lFDI optional. A server serving its EndDevices without lFDI
  (`enddevice-lfdi-omitted`) passes the cases that find EndDevices (COMM-003, UTIL-001 .. UTIL-004, AGG-001 ..
  AGG-012, MAINT-001 .. MAINT-005), each lFDI they would have compared a warning at most.
- A power factor is displacement x 10^multiplier (PowerFactorWithExcitation): 0.9 is 900 x 10^-3 or 90 x 10^-2.
  A server serving the DERControls and DefaultDERControls the harness created in the other encoding
  (`power-factor-rescaled`) passes the cases that read them back (BASIC-002, BASIC-017, BASIC-022, CORE-013,
  UTIL-004), judged by the quantity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.results import FAILED, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions

PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"
CASES = project_dir("testcases") / "server"
# The reference server's clock and schedules run 100 times as fast (csip-harness run --time-scale 0.01).
TIME_SCALE = 0.01


def run(pki: TestPki, defect: str, case_id: str, out: Path) -> TestRecord:
    """Run the bundled case_id against a reference server of its own with defect switched on."""
    with spawn_reference_server(pki, defects=[defect], time_scale=TIME_SCALE).wait_ready(60) as server:
        session = HarnessSession(_options(server, pki, out))
        try:
            return session.run(load_case(CASES / f"{case_id}.yaml"))
        finally:
            session.close()


def _options(server: ReferenceProcess, pki: TestPki, out: Path) -> RunOptions:
    client = pki.clients["client"]
    return RunOptions(dut=server.base_url, http_url=server.http_url, cert=str(client.cert), key=str(client.key),
                      ca=str(pki.ca), profile=str(PROFILE), out=str(out), variables=server.admin_variables(),
                      unattended=True, time_scale=server.time_scale, time_origin=server.time_origin)


def _subscription_posts(case_id: str) -> list[int]:
    """The 1-based indices of the case's steps that POST a Subscription."""
    case = load_case(CASES / f"{case_id}.yaml")
    return [i for i, step in enumerate(case.steps, 1)
            if step.request and step.request.method == "POST" and "<Subscription " in str(step.request.body)]


def _lfdi_shoulds(case_id: str) -> list[int]:
    """The 1-based indices of the case's steps that compare an lFDI as a `should`."""
    case = load_case(CASES / f"{case_id}.yaml")
    return [i for i, step in enumerate(case.steps, 1) if step.should and "lFDI" in (step.should.resource or {})]


@pytest.mark.parametrize("case_id", ["AGG-001", "ERR-002", "MAINT-003", "MAINT-004", "MAINT-005"])
def test_a_subscription_post_answered_200_with_a_location_passes_with_a_warning(pki: TestPki, tmp_path: Path,
                                                                               case_id: str) -> None:
    record = run(pki, "post-returns-200", case_id, tmp_path)
    assert record.verdict == PASSED, record.reason
    posts = _subscription_posts(case_id)
    assert posts
    for index in posts:
        step = record.steps[index - 1]
        assert step.exchanges[0].status == 200, (index, step.exchanges[0].status)
        warnings = [f.message for f in step.findings if f.severity == "warning"]
        assert "should: status: expected 201, saw 200" in warnings, (index, warnings)


def test_a_subscription_post_answered_200_fails_where_the_pass_criteria_print_201(pki: TestPki,
                                                                                  tmp_path: Path) -> None:
    record = run(pki, "post-returns-200", "CORE-018", tmp_path)
    assert record.verdict == FAILED
    assert record.reason.startswith("step 6 "), record.reason
    assert "status: expected 201, saw 200" in record.reason


# The cases that look EndDevices up in an EndDeviceList: each finds them by sFDI.
LFDI_FREE_CASES = ["COMM-003", *(f"UTIL-{n:03}" for n in range(1, 5)), *(f"AGG-{n:03}" for n in range(1, 13)),
                   *(f"MAINT-{n:03}" for n in range(1, 6))]


@pytest.mark.parametrize("case_id", LFDI_FREE_CASES)
def test_enddevices_served_without_their_optional_lfdi_pass(pki: TestPki, tmp_path: Path, case_id: str) -> None:
    record = run(pki, "enddevice-lfdi-omitted", case_id, tmp_path)
    assert record.verdict == PASSED, record.reason
    bodies = [e.response_body["text"] for s in record.steps for e in s.exchanges
              if e.response_body and "<EndDevice" in e.response_body["text"]]
    assert bodies and not any("<lFDI>" in body for body in bodies)
    for index in _lfdi_shoulds(case_id):
        warnings = [f.message for f in record.steps[index - 1].findings if f.severity == "warning"]
        assert any(m.startswith("should: resource.lFDI: ") for m in warnings), (index, warnings)


@pytest.mark.parametrize("case_id", ["BASIC-002", "BASIC-017", "BASIC-022", "CORE-013", "UTIL-004"])
def test_power_factors_served_in_another_encoding_pass(pki: TestPki, tmp_path: Path, case_id: str) -> None:
    record = run(pki, "power-factor-rescaled", case_id, tmp_path)
    assert record.verdict == PASSED, record.reason
    bodies = [e.response_body["text"] for s in record.steps for e in s.exchanges
              if e.response_body and "<opModFixedPFInjectW>" in e.response_body["text"]]
    # The case created every power factor as displacement x 10^-3; the server served none of them that way
    # (x 10^-2 where the displacement ends in 0, else x 10^-4).
    assert bodies and not any("<multiplier>-3</multiplier>" in body for body in bodies)
