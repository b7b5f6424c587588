"""Client identities (`as:`), tls: expectations and the COMM-004 packet traces, against the reference server."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dpkt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from harness.cases.loader import CaseFileError, load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.pki_profiles import CERTIFICATE_PROFILES, POLICY_MAPPINGS_OID
from harness.reference.certcheck import profile_problems
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.report.document import schema_errors
from harness.results import NOT_APPLICABLE, PASSED, TestRecord
from harness.sep.identity import certificate_der, lfdi
from harness.session import HarnessSession, RunOptions, SessionConfigError

CASES = project_dir("testcases") / "server"
PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    """The clean reference server and one that skips the 2030.5 certificate profile."""
    started = {"clean": spawn_reference_server(pki),
               "unchecked": spawn_reference_server(pki, defects=["client-cert-profile-unchecked"])}
    try:
        yield {name: process.wait_ready(timeout=60) for name, process in started.items()}
    finally:
        for process in started.values():
            process.stop()


def session_for(server: ReferenceProcess, pki: TestPki, profile: Path = PROFILE, **variables: str) -> HarnessSession:
    client = pki.clients["client"]
    return HarnessSession(RunOptions(dut=server.base_url, http_url=server.http_url, cert=str(client.cert),
                                     key=str(client.key), ca=str(pki.ca), profile=str(profile), unattended=True,
                                     variables={**server.admin_variables(), **variables}))


def run(server: ReferenceProcess, pki: TestPki, case: Path, profile: Path = PROFILE) -> TestRecord:
    session = session_for(server, pki, profile)
    try:
        return session.run(load_case(case))
    finally:
        session.close()


def certificates(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def test_each_certificate_profile_has_the_fault_or_chain_it_names(pki: TestPki) -> None:
    assert set(pki.certificates) == set(CERTIFICATE_PROFILES)
    chains = {name: certificates(pair.cert) for name, pair in pki.certificates.items()}
    assert [len(chains[name]) for name in ("dev", "mica-dev", "mca-mica-dev")] == [2, 3, 4]
    assert all(chain[-1].subject == chain[-1].issuer for chain in chains.values())  # each ends at its root
    eku = chains["mica-eku-critical"][1].extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    assert eku.critical
    constraints = chains["mica-name-constraints"][1].extensions.get_extension_for_oid(ExtensionOID.NAME_CONSTRAINTS)
    assert not constraints.critical
    mappings = chains["mica-policy-mappings"][1].extensions.get_extension_for_oid(POLICY_MAPPINGS_OID)
    assert not mappings.critical
    [self_signed] = chains["self-signed"]
    assert self_signed.issuer == self_signed.subject
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    assert chains["wrong-ca"][-1].subject != ca.subject
    now = dt.datetime.now(dt.UTC)
    assert chains["expired"][0].not_valid_after_utc < now < chains["not-yet-valid"][0].not_valid_before_utc
    usage = chains["wrong-key-usage"][0].extensions.get_extension_for_class(x509.KeyUsage).value
    assert not usage.digital_signature and not usage.key_agreement
    key = chains["wrong-curve"][0].public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    # The reference server's own profile check refuses the three MICA variants and the P-384 key, nothing valid.
    der = {name: [c.public_bytes(Encoding.DER) for c in chain] for name, chain in chains.items()}
    refused = {name for name, chain in der.items() if profile_problems(chain)}
    assert refused == {"mica-eku-critical", "mica-name-constraints", "mica-policy-mappings", "wrong-curve"}


def test_a_step_acts_as_its_identity_and_the_evidence_names_it(servers: dict, pki: TestPki, tmp_path: Path) -> None:
    case = tmp_path / "LAB-010.yaml"
    case.write_text(
        "id: LAB-010\ntitle: identities\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
        "  - name: as the second device, naming its own LFDI\n    as: other\n"
        "    request: {method: GET, path: /dcap, headers: {X-LFDI: '${identities.other.lfdi}'}}\n"
        "    expect: {status: 200, schema: DeviceCapability}\n"
        "  - name: as the default identity\n    request: {method: GET, path: /dcap}\n    expect: {status: 200}\n")
    record = run(servers["clean"], pki, case)
    assert record.verdict == PASSED, record.reason
    other, client = (record.steps[0].exchanges[0], record.steps[1].exchanges[0])
    other_lfdi = lfdi(certificate_der(pki.clients["other"].cert))
    assert ("x-lfdi", other_lfdi) in [(k.lower(), v) for k, v in other.request_headers]
    assert other.tls["client_identity"] == {"name": "other", "lfdi": other_lfdi,
                                            "certificate_sha256": other.tls["client_identity"]["certificate_sha256"]}
    assert client.tls["client_identity"]["name"] == "client"
    assert client.tls["client_identity"]["lfdi"] == lfdi(certificate_der(pki.clients["client"].cert))


def test_an_identity_the_profile_does_not_map_makes_the_step_not_applicable(servers: dict, pki: TestPki,
                                                                            tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: server\ncapabilities: [time]\nidentity: {pin: 111115}\n"
                       "actions: {preregister-enddevice: {builtin: {}}}\n")
    case = tmp_path / "LAB-011.yaml"
    case.write_text("id: LAB-011\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
                    "  - name: names another identity's LFDI\n"
                    "    request: {method: GET, path: /dcap, headers: {X-LFDI: '${identities.other.lfdi}'}}\n"
                    "    expect: {status: 200}\n")
    record = run(servers["clean"], pki, case, profile)
    assert record.verdict == NOT_APPLICABLE and "identity 'other'" in record.reason
    record = run(servers["clean"], pki, CASES / "COMM-004D.yaml", profile)
    assert record.verdict == NOT_APPLICABLE
    assert "identity 'mica-eku-critical'" in record.reason and "identities: in the profile" in record.reason
    # COMM-003 still judges what it can: the connection and the EndDeviceList of the default identity; the other
    # identities' steps are n/a.
    record = run(servers["clean"], pki, CASES / "COMM-003.yaml", profile)
    assert record.verdict == PASSED, record.reason
    assert [s.verdict for s in record.steps] == [PASSED, PASSED] + [NOT_APPLICABLE] * 9


def test_a_misspelt_identity_field_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    case = tmp_path / "LAB-012.yaml"
    case.write_text("id: LAB-012\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
                    "  - name: typo\n    request: {method: GET, path: '/x/${identities.other.lfid}'}\n")
    with pytest.raises(CaseFileError, match=r"LAB-012.yaml:7: .*identities.NAME.FIELD with FIELD one of cert"):
        load_case(case)


def test_an_identity_file_that_does_not_exist_stops_the_run_naming_it(servers: dict, pki: TestPki,
                                                                      tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("role: server\nidentities:\n  other: {cert: missing.pem, key: missing.key}\n")
    with pytest.raises(SessionConfigError, match=r"identity 'other': expected its certificate file .*missing.pem"):
        session_for(servers["clean"], pki, profile)


def test_a_certificate_fault_the_procedure_does_not_name_is_a_warning_never_a_failure(servers: dict,
                                                                                     pki: TestPki) -> None:
    record = run(servers["unchecked"], pki, CASES / "COMM-003.yaml")
    assert record.verdict == PASSED, record.reason
    curve = next(s for s in record.steps if "secp384r1" in s.name)
    assert [(f.kind, f.severity) for f in curve.findings] == [("protocol", "warning")]
    assert "expected the server to refuse the certificate" in curve.findings[0].message
    assert "not required by the procedure" in curve.findings[0].message


def _trace(path: Path) -> tuple[list[dpkt.tcp.TCP], bytes, bytes]:
    """The TCP packets of a trace, and each side's byte stream (client first)."""
    with path.open("rb") as stream:
        packets = [dpkt.ethernet.Ethernet(buf).data.data for _, buf in dpkt.pcap.Reader(stream)]
    client = packets[0].sport
    return (packets, b"".join(p.data for p in packets if p.sport == client),
            b"".join(p.data for p in packets if p.sport != client))


def _client_certificates(stream: bytes) -> int:
    """How many certificates the client's Certificate message (TLS 1.2, plaintext) carries."""
    records, _ = dpkt.ssl.tls_multi_factory(stream)
    messages = b"".join(r.data for r in records if r.type == 22)
    offset = 0
    while offset < len(messages):
        kind, length = messages[offset], int.from_bytes(messages[offset + 1:offset + 4], "big")
        if kind == 11:
            body, count, at = messages[offset + 7:offset + 4 + length], 0, 0
            while at < len(body):
                at += 3 + int.from_bytes(body[at:at + 3], "big")
                count += 1
            return count
        offset += 4 + length
    return 0


def test_each_comm_004_sub_test_keeps_a_packet_trace_listed_and_linked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--reference", "-k", "COMM-004",
                           "--out", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((out / "results.json").read_text())
    assert schema_errors(document) == []
    tests = {t["id"]: t for t in document["tests"]}
    assert sorted(tests) == [f"COMM-004{letter}" for letter in "ABCDEFG"]
    manifest = (out / "MANIFEST.sha256").read_text()
    html = (out / "report.html").read_text()
    for case_id, test in tests.items():
        [exchange] = test["steps"][0]["exchanges"]
        trace = exchange["trace"]
        assert trace == f"exchanges/{case_id}/1-1.pcap" and f"  {trace}\n" in manifest and f'href="{trace}"' in html
        packets, client, server = _trace(out / trace)
        assert packets[0].flags == dpkt.tcp.TH_SYN and packets[-1].flags & dpkt.tcp.TH_FIN
        records, _ = dpkt.ssl.tls_multi_factory(client)
        hello = dpkt.ssl.TLSHandshake(records[0].data).data
        # Only the mandatory suite (0x00FF is the renegotiation signalling value, not a suite) and only P-256.
        assert [c.code for c in hello.ciphersuites if c.code != 0x00FF] == [0xC0AE]
        assert dict(hello.extensions)[10] == bytes.fromhex("00020017")
        assert server.startswith(b"\x16\x03\x03")  # the server's first record: a TLS 1.2 handshake
        expected = {"A": 2, "B": 3, "C": 4, "D": 3, "E": 3, "F": 3, "G": 1}[case_id[-1]]
        assert _client_certificates(client) == expected, case_id
        tshark = shutil.which("tshark")
        if tshark:  # where Wireshark's reader is installed, it dissects the same trace
            port = str(urlsplit(exchange["url"]).port)
            shown = subprocess.run([tshark, "-r", str(out / trace), "-d", f"tcp.port=={port},tls"],
                                   capture_output=True, text=True, timeout=60, check=True).stdout
            assert "Client Hello" in shown and "Server Hello" in shown, shown
        outcome = exchange["tls"]["outcome"]
        assert outcome == ("established" if case_id[-1] in "ABC" else "disconnect"), (case_id, outcome)
    assert subprocess.run([sys.executable, "-m", "harness.cli", "verify", str(out)], capture_output=True,
                          timeout=60, check=False).returncode == 0
