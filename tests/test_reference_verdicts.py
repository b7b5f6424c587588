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

CASES = {path.stem: path for path in sorted((project_dir("testcases") / "server").glob("*.yaml"))}
PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"

# The message of a tls: refused step whose certificate the server accepted.
REFUSED = ("tls: expected the server to refuse the certificate: a fatal TLS alert, a TCP disconnect before any "
           "response, or HTTP 403 (errata 7), saw the handshake completed")
# case id -> defect -> (failing step index, text the failure message must contain)
PROOFS: dict[str, dict[str, tuple[int, str]]] = {
    "CORE-001": {
        "wrong-content-type": (2, "headers.Content-Type: expected application/sep+xml, saw 'text/xml'"),
        "redirect-to-http": (1, "headers.Location: expected anything but {'regex': '(?i)http://.*'}"),
        "disallowed-method-accepted": (5, "status: expected 405, saw 200 with Content-Type application/sep+xml"),
        "bad-host-accepted": (7, "status: expected 400, saw 200"),
        "unknown-method-400": (8, "status: expected 501, saw 400 with Content-Type application/sep+xml"),
        "no-redirect": (1, "status: expected 200 or 301, saw 404"),
    },
    "CORE-002": {
        "no-redirect": (1, "status: expected 301, saw 404"),
        "redirect-to-http": (1, "headers.Location: expected a value matching /(?i)https://.+/"),
        "post-returns-200": (4, "status: expected 201 or 204, saw 200"),
        "post-missing-location": (4, "headers.Location: expected present, saw absent"),
        "mup-duplicate-mrid": (6, "headers.Location: expected a reference to the same resource as '/mup/1', "
                                  "saw '/mup/2'"),
        "mup-readings-refused": (7, "status: expected 201 or 204, saw 405"),
        "not-found-200": (12, "status: expected 404, saw 200"),
        "missing-allow-header": (13, "headers.Allow: expected regex (?i)(?=.*\\bGET\\b)(?!.*\\bPOST\\b).*, saw absent"),
    },
    # The reference shows a device certificate only its own EndDevice, so CORE-004 pages its DERProgramList;
    # with edev-not-scoped it pages the EndDeviceList, the only time-ordered one, where a= matters.
    "CORE-004": {
        "list-ignores-limit": (6, "resource.results: expected 1, saw '3'"),
        "list-ignores-start": (14, "resource.results: expected 0, saw '1'"),
        "list-last-param-wins": (15, "resource.DERProgram[0].href: expected '/derp/2' (hrefs in this order"),
        "list-wrong-all": (11, "resource.results: expected '4', saw '3'"),
        "edev-not-scoped+list-ignores-after": (8, "resource.results: expected 0, saw '1'"),
        "edev-not-scoped+list-last-param-wins": (15, "resource.EndDevice[0].href: expected"),
    },
    "CORE-005": {
        "time-wrong-quality": (2, "resource.quality: expected 7, saw '3'"),
        "dcap-missing-time-link": (1, "resource.TimeLink: expected an element with href, saw nothing (absent)"),
    },
    "BASIC-001": {
        "wrong-lfdi": (3, "resource.lFDI: expected hex"),
        "wrong-sfdi": (2, "save mine: expected a value at EndDevice[sFDI="),
        "wrong-pin": (4, "resource.pIN: expected 111115, saw '111116'"),
        "fsa-broken-link": (8, "status: expected 200, saw 404"),
        "invalid-dercontrol": (11, "in DERControl: expected mRID"),
        "list-wrong-results": (2, "EndDeviceList: expected results to equal the number of items"),
    },
    "COMM-002": {
        "wrong-content-type": (1, "headers.Content-Type: expected application/sep+xml, saw 'text/xml'"),
    },
    # COMM-003 is the case that catches a server serving an unregistered certificate (its description says why).
    "COMM-003": {
        "client-cert-not-requested": (1, "tls.client_certificate_requested: expected True, saw False"),
        "no-ccm8-suite": (1, "tls: expected a completed TLS handshake and a response, saw the TLS handshake ended"),
        "client-trust-too-wide": (2, REFUSED),
        "unregistered-client-allowed": (8, "option 2 'answered with a list that holds no program': "
                                           "resource.all: expected 0, saw '1'"),
    },
    "COMM-004A": {
        "no-ccm8-suite": (1, "tls: expected a completed TLS handshake and a response, saw the TLS handshake ended"),
        "wrong-content-type": (1, "headers.Content-Type: expected application/sep+xml, saw 'text/xml'"),
    },
    "COMM-004B": {"client-chain-length-two-only": (1, "saw the server closed the connection after the handshake")},
    "COMM-004C": {"client-chain-length-two-only": (1, "saw the server closed the connection after the handshake")},
    "COMM-004D": {"client-cert-profile-unchecked": (1, REFUSED)},
    "COMM-004E": {"client-cert-profile-unchecked": (1, REFUSED)},
    "COMM-004F": {"client-cert-profile-unchecked": (1, REFUSED)},
    "COMM-004G": {"client-trust-too-wide": (1, REFUSED)},
}
PROOFS.update({
    "CORE-009": {
        "der-put-not-stored": (8, "resource.modesSupported: expected hex"),
        "wrong-pin": (4, "resource.pIN: expected 111115, saw '111116'"),
    },
    "BASIC-002": {
        "fsa-missing-time-link": (5, "resource.FunctionSetAssignments[0].TimeLink: expected an element with href"),
        "group-primacy-inverted": (28, "resource.all: expected a number >= 1, saw '0'"),
    },
    "BASIC-027": {
        "logevent-list-oldest-first": (14, "resource.LogEvent[1]: expected items ordered by -createdDateTime"),
        "post-missing-location": (4, "headers.Location: expected present, saw absent"),
    },
    "BASIC-029": {
        "mup-get-includes-readings": (6, "resource.MirrorMeterReading: expected absent, saw"),
        "upt-empty": (11, "status: expected 200, saw 404"),
    },
    "CORE-010": {
        "fsa-derp-list-wrong-order": (8, "resource.DERProgram[0].primacy: expected 4, saw '10'"),
        "wrong-pin": (4, "resource.pIN: expected 111115, saw '111116'"),
    },
    "CORE-011": {
        "fsa-derp-list-wrong-order": (21, "resource.DERProgram[1]: expected items ordered by primacy"),
        "wrong-lfdi": (3, "resource.lFDI: expected hex"),
    },
    "CORE-014": {
        "der-put-returns-200": (6, "status: expected 204, saw 200"),
        "der-put-not-stored": (8, "resource.modesSupported: expected hex 03900060"),
    },
    # Events run on the server's clock: the reference's runs 1/TIME_SCALE times as fast, so 2 minutes take 1.2 s.
    "BASIC-017": {
        "event-status-always-scheduled": (12, "resource.EventStatus.currentStatus: expected 1, saw '0'"),
        "ended-event-listed": (16, "(IEEE 2030.5 EventStatus: the event is after its effective end"),
        "response-rejected": (10, "status: expected 201, saw 400"),
        "post-missing-location": (10, "headers.Location: expected present, saw absent"),
        "invalid-dercontrol": (8, "in DERControl: expected mRID"),
    },
    "BASIC-018": {
        "dderc-ignores-setting": (7, "resource.DERControlBase.opModFixedPFInjectW: expected an element with "
                                     "displacement, multiplier, saw nothing (absent)"),
        "event-status-always-scheduled": (14, "(IEEE 2030.5 EventStatus: the event is within its effective window"),
        "ended-event-listed": (18, "(IEEE 2030.5 EventStatus: the event is after its effective end"),
        "response-rejected": (12, "status: expected 201, saw 400"),
    },
    "BASIC-019": {
        "dderc-ignores-setting": (7, "resource.DERControlBase.opModFixedPFInjectW: expected an element with"),
        "dercontrol-list-latest-first": (11, "expected DERControlList order (IEEE 2030.5: interval.start ascending, "
                                             "then creationTime descending, then mRID descending)"),
        "event-status-always-scheduled": (17, "saw 0 Scheduled"),
        "ended-event-listed": (21, "saw 1 Active"),
    },
    "BASIC-020": {
        "dderc-ignores-setting": (9, "resource.DERControlBase.opModFixedPFInjectW: expected an element with"),
        "response-rejected": (18, "status: expected 201, saw 400"),
        "event-status-always-scheduled": (21, "(IEEE 2030.5 EventStatus: the event is within its effective window"),
        "ended-event-listed": (26, "(IEEE 2030.5 EventStatus: the event is after its effective end"),
    },
    "BASIC-024": {
        "overlap-superseded": (25, "resource.EventStatus.currentStatus: expected 1, saw '4'"),
        "dderc-ignores-setting": (9, "resource.DERControlBase.opModFixedPFInjectW: expected an element with"),
        "event-status-always-scheduled": (21, "(IEEE 2030.5 EventStatus: the event is within its effective window"),
        "ended-event-listed": (30, "(IEEE 2030.5 EventStatus: the event is after its effective end"),
    },
    "BASIC-025": {
        "overlap-superseded": (25, "resource.EventStatus.currentStatus: expected 1, saw '4'"),
        "dderc-ignores-setting": (9, "resource.DERControlBase.opModFixedPFInjectW: expected an element with"),
        "event-status-always-scheduled": (21, "(IEEE 2030.5 EventStatus: the event is within its effective window"),
        "ended-event-listed": (32, "(IEEE 2030.5 EventStatus: the event is after its effective end"),
    },
})
REFUSALS = (ALERT, DISCONNECT)
# The event cases run on a fresh server each, whose clock runs 1/TIME_SCALE times as fast: under ended-event-listed,
# events other cases left behind would fail them at an earlier step than the one proven, and on a scaled shared
# server the seeded event the other cases read would end within a minute.
FRESH_SERVER = {"BASIC-017", "BASIC-018", "BASIC-019", "BASIC-020", "BASIC-024", "BASIC-025"}
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
    # asked; action and wait steps send nothing.
    requests = {step.index for step in load_case(CASES[case_id]).steps if step.action is None and step.wait is None}
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
