"""`discover:` steps (xmDNS/DNS-SD, COMM-001): what they judge in real answers, how a case says it, and where the
blame lands when nobody answers (the DUT), when the harness cannot ask (an error) or when the DUT does not offer
xmDNS (not applicable).

The answers are real DNS packets (zeroconf's codec) and the queries go over real UDP multicast on loopback to the
reference server's responder.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from zeroconf import DNSIncoming, DNSOutgoing, DNSPointer, DNSService, DNSText, const

from harness.cases.loader import CaseFileError, load_case
from harness.engine.discovery import Received, judge, parse_txt
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.reference.xmdns import SERVICE, Advertisement, encode_txt
from harness.results import ERROR, FAILED, NOT_APPLICABLE, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions

GROUP = "239.255.255.251"
DERP = "derp._sub._smartenergy._tcp.site."
REFERENCE_PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"


def received(out: DNSOutgoing, destination: str = GROUP) -> list[Received]:
    """An answer as the harness receives it: the packet decoded from its wire bytes, and where it was sent."""
    return [Received(DNSIncoming(packet), destination, ("127.0.0.1", 5353)) for packet in out.packets()]


def advertisement(**changes: object) -> Advertisement:
    values: dict[str, object] = {"address": "127.0.0.1", "http_port": 8080, "https_port": 8443,
                                 "paths": {"derp": "/derp", "tm": "/tm"}}
    values.update(changes)
    return Advertisement(**values)  # type: ignore[arg-type]


def test_a_conforming_subtype_answer_passes_and_gives_the_https_url() -> None:
    out = advertisement().answer(DERP)
    assert out is not None
    problems, found = judge(DERP, False, GROUP, received(out))
    assert problems == []
    assert found["url"] == "https://127.0.0.1:8443/derp"
    assert found["dcap_url"] == "https://127.0.0.1:8443/dcap"


def test_the_main_service_answer_leads_to_dcap_and_a_subtype_it_does_not_serve_is_not_answered() -> None:
    out = advertisement().answer(SERVICE)
    assert out is not None
    problems, found = judge(SERVICE, False, GROUP, received(out))
    assert problems == [] and found["url"] == "https://127.0.0.1:8443/dcap"
    assert advertisement().answer("mup._sub._smartenergy._tcp.site.") is None


def test_qu_bit_decides_where_the_answer_must_go() -> None:
    out = advertisement().answer(DERP)
    assert out is not None
    multicast_to_qu, _ = judge(DERP, True, GROUP, received(out, GROUP))
    assert any("SEC.109" in p and "must be unicast" in p for p in multicast_to_qu)
    unicast_to_qm, _ = judge(DERP, False, GROUP, received(out, "127.0.0.1"))
    assert any("SEC.109" in p and "must be multicast" in p for p in unicast_to_qm)
    assert judge(DERP, True, GROUP, received(out, "127.0.0.1"))[0] == []


def _answer_with_txt(qname: str, txt: list[tuple[str, str]], pointers: int = 1) -> DNSOutgoing:
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA, multicast=True)
    for n in range(pointers):
        out.add_answer_at_time(DNSPointer(qname, const._TYPE_PTR, const._CLASS_IN, 4500, f"i{n}.{SERVICE}"), 0)
    out.add_additional_answer(DNSService(f"i0.{SERVICE}", const._TYPE_SRV, const._CLASS_IN, 120, 0, 0, 80, "h.site."))
    out.add_additional_answer(DNSText(f"i0.{SERVICE}", const._TYPE_TXT, const._CLASS_IN, 4500, encode_txt(txt)))
    return out


def test_txt_rules_txtvers_first_path_only_in_subtype_answers_and_one_ptr_for_the_service() -> None:
    late = _answer_with_txt(DERP, [("dcap", "/dcap"), ("txtvers", "1"), ("path", "/derp"), ("https", "1"),
                                   ("level", "-S1")])
    problems, _ = judge(DERP, False, GROUP, received(late))
    assert any("txtvers=1 must be the first key" in p for p in problems)
    assert any("no A or AAAA record for the SRV target 'h.site.'" in p for p in problems)
    main = _answer_with_txt(SERVICE, [("txtvers", "1"), ("dcap", "/dcap"), ("path", "/derp"), ("https", "1"),
                                      ("level", "-S1")], pointers=2)
    problems, _ = judge(SERVICE, False, GROUP, received(main))
    assert any("must not carry a path key" in p for p in problems)
    assert any("exactly one PTR" in p for p in problems)
    no_path = _answer_with_txt(DERP, [("txtvers", "1"), ("dcap", "/dcap"), ("https", "1"), ("level", "-S1")])
    assert any("non-empty path key" in p for p in judge(DERP, False, GROUP, received(no_path))[0])


def test_parse_txt_keeps_order_and_keys_without_value() -> None:
    assert parse_txt(b"\x09txtvers=1\x05flag1\x06Dcap=/") == [("txtvers", "1"), ("flag1", None), ("dcap", "/")]


def _case(tmp_path: Path, steps: str, requires: str = "[xmdns]") -> Path:
    path = tmp_path / "testcases" / "COMM-099.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"id: COMM-099\ntitle: t\nrole: server\nprocedure: {{doc: d, version: '1'}}\n"
                    f"requires: {requires}\nsteps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    return path


def _run(server: ReferenceProcess, pki: TestPki, case: Path, tmp_path: Path, profile: Path = REFERENCE_PROFILE,
         **variables: str) -> TestRecord:
    client = pki.clients["client"]
    session = HarnessSession(RunOptions(
        dut=server.base_url, http_url=server.http_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
        profile=str(profile), out=str(tmp_path / "out"), variables={**server.admin_variables(), **variables},
        unattended=True))
    try:
        return session.run(load_case(case))
    finally:
        session.close()


def test_a_query_against_the_reference_responder_saves_the_url_the_next_step_gets(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = _case(tmp_path, """\
        - {name: ask, discover: {query: _smartenergy._tcp.site, qu: true}, save: {here: dcap_url}}
        - {name: get, request: {method: GET, url: "${here}"}, expect: {status: 200, schema: DeviceCapability}}
        """)
    record = _run(reference_server, pki, case, tmp_path)
    assert record.verdict == PASSED, record.reason
    assert record.steps[0].saved == {"here": f"{reference_server.base_url}/dcap"}
    answer = record.steps[0].observed["answers"][0]
    assert answer["to"] == "127.0.0.1"  # QU on: unicast to the harness
    assert {r["type"] for r in answer["records"]} == {"Pointer", "Service", "Text", "Address"}


def test_nobody_answering_fails_the_step_naming_the_query_and_the_wait(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        silent = str(probe.getsockname()[1])
    case = _case(tmp_path, "- {name: ask, discover: {query: derp._sub._smartenergy._tcp.site, within: 0.3}}\n")
    record = _run(reference_server, pki, case, tmp_path, xmdns_port=silent)
    assert record.verdict == FAILED
    assert record.reason == (f"step 1 'ask': no xmDNS answer to the PTR query for {DERP} (QU off) sent to "
                             f"{GROUP}:{silent} within 0.3 s")


def test_an_interface_the_harness_cannot_use_is_an_error_not_the_duts_fault(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = _case(tmp_path, "- {name: ask, discover: {query: _smartenergy._tcp.site}}\n")
    record = _run(reference_server, pki, case, tmp_path, xmdns_interface="203.0.113.9")
    assert record.verdict == ERROR
    assert "cannot open the xmDNS socket on 203.0.113.9" in record.reason


def test_comm001_is_not_applicable_for_a_dut_that_does_not_declare_xmdns(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: server\ncapabilities: [time, edev-list]\nidentity: {pin: 111115}\n")
    record = _run(reference_server, pki, project_dir("testcases") / "server" / "COMM-001.yaml", tmp_path, profile)
    assert record.verdict == NOT_APPLICABLE
    assert record.reason == "the DUT profile does not declare: xmdns"


@pytest.mark.parametrize(("step", "text"), [
    ("- {name: ask, discover: {query: _smartenergy._tcp.site}, expect: {status: 200}}\n",
     "a discover step has no expect"),
    ("- {name: ask, discover: {query: _smartenergy._tcp.site}, save: {x: body}}\n",
     "save x: expected one of url, dcap_url, host, port, path, instance, saw 'body'"),
    ("- {name: ask, discover: {query: _derp._sub._smartenergy._tcp.site}}\n", "_derp._sub"),
])
def test_authoring_mistakes_in_a_discover_step_are_load_errors_with_the_line(
        tmp_path: Path, step: str, text: str) -> None:
    with pytest.raises(CaseFileError) as info:
        load_case(_case(tmp_path, step))
    assert text in str(info.value)
    assert ":7" in str(info.value)  # the step's line


def test_the_reference_server_refuses_a_malformed_xmdns_option(pki: TestPki) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.reference", "--cert", str(pki.server.cert), "--key", str(pki.server.key),
         "--ca", str(pki.ca), "--xmdns", "239.255.255.251:mdns"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--xmdns: expected GROUP:PORT such as 239.255.255.251:5353, saw '239.255.255.251:mdns'" in done.stderr
    assert "Traceback" not in done.stderr
