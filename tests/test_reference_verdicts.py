"""Every test case passes against the clean reference server and fails under a named defect.

This is the proof that each case tests something: the failing step, the field, the expected and the seen
value are all checked, so a case that stopped checking would be caught here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.defects import DEFECTS
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.results import FAILED, NOT_APPLICABLE, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions
from harness.transport.tlsprobe import ALERT, DISCONNECT
from tests.proofs import FRESH_SERVER, PROOFS

CASES = {path.stem: path for path in sorted((project_dir("testcases") / "server").glob("*.yaml"))}
PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"

REFUSALS = (ALERT, DISCONNECT)
USED_DEFECTS = sorted({defect for case_id, proofs in PROOFS.items() if case_id not in FRESH_SERVER
                       for defect in proofs})
# The reference servers' clocks and schedules run 100 times as fast (csip-harness run --time-scale 0.01).
TIME_SCALE = 0.01


def defects_of(name: str | None) -> list[str]:
    """The defects a server name switches on: 'a+b' is a server with both."""
    return name.split("+") if name else []


class Servers:
    """Reference servers by defect name (None: the clean one), each started the first time a test asks for it.

    Starting them lazily means a worker of `pytest -n` starts only the servers of the tests it runs; a loaded
    machine gets a generous start-up time.
    """

    def __init__(self, pki: TestPki) -> None:
        self.pki = pki
        self.started: dict[str | None, ReferenceProcess] = {}

    def __getitem__(self, name: str | None) -> ReferenceProcess:
        if name not in self.started:
            self.started[name] = spawn_reference_server(self.pki, defects=defects_of(name)).wait_ready(60)
        return self.started[name]

    def stop(self) -> None:
        for process in self.started.values():
            process.stop()


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[Servers]:
    """A clean reference server and one per defect, each started when first used."""
    started = Servers(pki)
    try:
        yield started
    finally:
        started.stop()


def run(server: ReferenceProcess, pki: TestPki, case_id: str, out: Path, profile: Path = PROFILE) -> TestRecord:
    client = pki.clients["client"]
    options = RunOptions(dut=server.base_url, http_url=server.http_url, cert=str(client.cert), key=str(client.key),
                         ca=str(pki.ca), profile=str(profile), out=str(out), variables=server.admin_variables(),
                         unattended=True, time_scale=server.time_scale, time_origin=server.time_origin)
    session = HarnessSession(options)
    try:
        return session.run(load_case(CASES[case_id]))
    finally:
        session.close()


def test_every_case_has_a_proof_and_every_proof_uses_a_real_defect() -> None:
    assert set(PROOFS) == set(CASES), "each test case needs at least one defect that fails it"
    used = {defect for proofs in PROOFS.values() for name in proofs for defect in defects_of(name)}
    assert used <= set(DEFECTS)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_case_passes_against_the_clean_reference(servers: Servers, pki: TestPki, case_id: str, tmp_path: Path) -> None:
    if case_id in FRESH_SERVER:
        with spawn_reference_server(pki, time_scale=TIME_SCALE).wait_ready(60) as server:
            record = run(server, pki, case_id, tmp_path)
    else:
        record = run(servers[None], pki, case_id, tmp_path)
    assert record.verdict == PASSED, record.reason
    # A step may be skipped only by its own `when:` (a branch for another kind of DUT), never failed.
    assert all(step.verdict == PASSED or (step.verdict == NOT_APPLICABLE and step.message.startswith("when: "))
               for step in record.steps), [(s.index, s.verdict, s.message) for s in record.steps]
    # A passed request step saw a response, or a connection the server refused as the step's tls: expectation
    # asked; action and wait steps send nothing, an await step judges what the server sent (if anything came) and a
    # discover step an xmDNS answer (no HTTP exchange).
    requests = {step.index for step in load_case(CASES[case_id]).steps
                if step.action is None and step.wait is None and step.await_ is None and step.discover is None}
    assert all(step.exchanges and (step.exchanges[0].status or step.exchanges[0].tls["outcome"] in REFUSALS)
               for step in record.steps if step.verdict == PASSED and step.index in requests)
    https = [e for s in record.steps for e in s.exchanges if e.url.startswith("https")]
    assert https and all(e.tls and e.tls["client_identity"]["lfdi"] for e in https)
    assert all(e.tls["version"] == "TLSv1.2" and e.tls["cipher"] == "ECDHE-ECDSA-AES128-CCM8" for e in https
               if e.status)


@pytest.mark.parametrize(
    ("case_id", "defect"), [(case_id, defect) for case_id, proofs in PROOFS.items() for defect in proofs]
)
def test_case_fails_under_its_defect(servers: Servers, pki: TestPki, case_id: str, defect: str, tmp_path: Path) -> None:
    step_index, text = PROOFS[case_id][defect]
    if case_id in FRESH_SERVER:
        with spawn_reference_server(pki, defects=defects_of(defect), time_scale=TIME_SCALE).wait_ready(60) as server:
            record = run(server, pki, case_id, tmp_path)
    else:
        record = run(servers[defect], pki, case_id, tmp_path)
    assert record.verdict == FAILED, f"{case_id} did not fail under {defect}: {record.reason}"
    failing = next(step for step in record.steps if step.verdict == FAILED)
    assert failing.index == step_index, record.reason
    # A failing option of a `choose:` step is named after the step: "step N 'name', option K 'option': ...".
    assert record.reason.startswith((f"step {step_index} {failing.name!r}: ", f"step {step_index} {failing.name!r}, "))
    assert text in record.reason, record.reason


def test_a_profile_without_a_capability_makes_the_case_not_applicable(
    servers: Servers, pki: TestPki, tmp_path: Path
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: server\ncapabilities: [time, edev-list]\nidentity: {pin: 111115}\n")
    case = tmp_path / "testcases" / "MAINT-099.yaml"
    case.parent.mkdir()
    case.write_text("id: MAINT-099\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\n"
                    "requires: [metering-mirror and time]\n"
                    "steps:\n  - {name: dcap, request: {method: GET, path: /dcap}, expect: {status: 200}}\n")
    client = pki.clients["client"]
    session = HarnessSession(RunOptions(dut=servers[None].base_url, cert=str(client.cert), key=str(client.key),
                                        ca=str(pki.ca), profile=str(profile), unattended=True))
    try:
        record = session.run(load_case(case))
    finally:
        session.close()
    assert record.verdict == NOT_APPLICABLE
    assert record.reason == "the DUT profile does not declare: metering-mirror and time"
    assert record.steps == []


def test_a_step_needing_an_undeclared_capability_is_not_applicable_and_the_case_goes_on(
    servers: Servers, pki: TestPki, tmp_path: Path
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: server\ntime_scale: true\ncapabilities: [time]\n"
                       "actions: {configure-time: {builtin: {}}}\n")
    record = run(servers[None], pki, "CORE-005", tmp_path / "out", profile)
    assert record.verdict == PASSED
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, NOT_APPLICABLE]
    assert record.steps[2].message == "the DUT profile does not declare: time-synchronised"


def test_a_client_role_profile_makes_server_cases_not_applicable(
    servers: Servers, pki: TestPki, tmp_path: Path
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: client\ntime_scale: true\ncapabilities: [time]\n")
    record = run(servers[None], pki, "CORE-005", tmp_path / "out", profile)
    assert record.verdict == NOT_APPLICABLE
    assert "case is for server DUTs" in record.reason


def test_evidence_keeps_the_headers_as_sent_and_the_bodies(servers: Servers, pki: TestPki, tmp_path: Path) -> None:
    record = run(servers[None], pki, "CORE-001", tmp_path)
    bad_host = next(step for step in record.steps if "malformed Host" in step.name)
    [exchange] = bad_host.exchanges
    assert ("host", "bad host!") in [(k.lower(), v) for k, v in exchange.request_headers]
    dcap = record.steps[1].exchanges[0]
    assert dcap.response_body and dcap.response_body["text"].startswith("<DeviceCapability")
    assert dcap.elapsed_s > 0 and dcap.started > 0
    assert record.steps[1].observed["resource"]["pollRate"]
