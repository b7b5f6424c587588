"""Pre-flight: the DUT is reached once before the first case; when it cannot be, every case is an error with
one plain sentence naming the cause and the option that fixes it, and no case connects again.

Real sockets on 127.0.0.1 throughout: a closed port, the reference server's plain-HTTP listener, TLS servers
(tests/tls_peers.py) with certificates from other CAs or TLS 1.3 only, and the real CLI and pytest.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from harness.pki import CertPair, TestPki, make_test_pki
from harness.preflight import handshake_messages, reach_dut
from harness.reference.process import ReferenceProcess
from harness.sep.tls import client_context

from .tls_peers import TlsPeer, foreign_client, server_context_for

CASE = """\
id: LAB-00{n}
title: DeviceCapability, case {n}
version: "1"
role: server
procedure: {{doc: lab procedures, version: "1"}}
steps:
  - name: GET DeviceCapability
    request: {{method: GET, path: "${{dcap}}"}}
    expect: {{status: 200, schema: DeviceCapability}}
"""


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """The PKI of the harness's identity."""
    return make_test_pki(tmp_path_factory.mktemp("ours"))


@pytest.fixture(scope="module")
def theirs(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """Another CA altogether: a DUT of this PKI trusts none of ours, and we trust none of its."""
    return make_test_pki(tmp_path_factory.mktemp("theirs"))


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    """Two cases, so that 'reached once' is visible."""
    directory = tmp_path / "testcases"  # the plugin collects YAML under a testcases/ folder
    directory.mkdir()
    for n in (1, 2):
        (directory / f"LAB-00{n}.yaml").write_text(CASE.format(n=n))
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(dut: str, identity: TestPki | CertPair, ca: Path, cases: Path,
        out: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    client = identity.clients["client"] if isinstance(identity, TestPki) else identity
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--dut", dut, "--cert", str(client.cert),
                           "--key", str(client.key), "--ca", str(ca), "--cases", str(cases), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False, start_new_session=True)
    return done, json.loads((out / "results.json").read_text())


def assert_every_case_errors_with(done: subprocess.CompletedProcess[str], results: dict, out: Path,
                                  *words: str) -> str:
    """Exit 1; each case an error with the same pre-flight reason, no step run, no exchange; the report shows it."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    tests = results["tests"]
    assert [t["verdict"] for t in tests] == ["error", "error"]
    reasons = {t["reason"] for t in tests}
    assert len(reasons) == 1, reasons
    [reason] = reasons
    assert reason.startswith("pre-flight: "), reason
    for word in words:
        assert word in reason, (word, reason)
    assert all(step["verdict"] == "not_run" and not step["exchanges"] for t in tests for step in t["steps"])
    assert reason.split(": ", 1)[1].split(";")[0].replace("'", "&#39;") in (out / "report.html").read_text()
    assert reason in done.stdout  # the terminal says it too
    return reason


def test_a_closed_port(ours: TestPki, cases: Path, tmp_path: Path) -> None:
    port = free_port()
    done, results = run(f"https://127.0.0.1:{port}", ours, ours.ca, cases, tmp_path / "out")
    reason = assert_every_case_errors_with(done, results, tmp_path / "out")
    assert reason == (f"pre-flight: nothing is listening at 127.0.0.1:{port}: the connection was refused; check the "
                      "port in --dut and that the DUT is running")


def test_a_plain_http_listener_on_the_port(reference_server: ReferenceProcess, pki: TestPki, cases: Path,
                                           tmp_path: Path) -> None:
    plain = reference_server.http_url.replace("http://", "https://")
    done, results = run(plain, pki, pki.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "answered in plain HTTP ('HTTP/1.1 ",
                                  "not TLS: give its https:// port in --dut, or --plain-http")


def test_an_untrusted_server_certificate(ours: TestPki, theirs: TestPki, cases: Path, tmp_path: Path) -> None:
    with TlsPeer(server_context_for(theirs, client_ca=ours.ca)) as dut:
        done, results = run(dut.url, ours, ours.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "the DUT's certificate is not trusted (",
                                  "CERTIFICATE_VERIFY_FAILED", "give the CA that issued it with --ca, or "
                                  "--tls-verify none")
    assert dut.connections == 1


def test_a_server_certificate_for_another_name(ours: TestPki, tmp_path_factory: pytest.TempPathFactory,
                                               cases: Path, tmp_path: Path) -> None:
    elsewhere = make_test_pki(tmp_path_factory.mktemp("elsewhere"), server_hosts=("dut.invalid",))
    with TlsPeer(server_context_for(elsewhere, client_ca=ours.ca)) as dut:
        done, results = run(dut.url, ours, elsewhere.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "IP address mismatch",
                                  "it does not name 127.0.0.1, the host in --dut", "--tls-verify chain")


def test_a_dut_that_rejects_our_certificate_names_its_alert(theirs: TestPki, cases: Path, tmp_path: Path) -> None:
    # The DUT's own certificate is trusted (we have its CA); it trusts only its own CA's client certificates.
    client = foreign_client(tmp_path / "foreign")
    with TlsPeer(server_context_for(theirs)) as dut:
        done, results = run(dut.url, client, theirs.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "the DUT rejected our client certificate (--cert) "
                                  "with the TLS alert unknown_ca: it does not trust the CA that issued it")
    assert dut.connections == 1  # two cases, one connection: the pre-flight's


def test_a_client_certificate_from_a_ca_of_the_same_name(ours: TestPki, theirs: TestPki, cases: Path,
                                                         tmp_path: Path) -> None:
    """Both test CAs are called "csip-harness test CA": the DUT finds its own by that name, and the signature
    fails (OpenSSL answers decrypt_error)."""
    with TlsPeer(server_context_for(theirs)) as dut:
        done, results = run(dut.url, ours.clients["client"], theirs.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "the DUT rejected our client certificate (--cert) "
                                  "with the TLS alert decrypt_error: a signature did not verify")


def test_a_dut_that_hangs_up_on_our_certificate_without_an_alert(
    reference_server: ReferenceProcess, pki: TestPki, theirs: TestPki, cases: Path, tmp_path: Path
) -> None:
    """The reference server (asyncio's TLS) closes without an alert; the handshake it sent still tells why."""
    client = theirs.clients["client"]
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--dut", reference_server.base_url, "--cert",
                           str(client.cert), "--key", str(client.key), "--ca", str(pki.ca), "--cases", str(cases),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120, check=False)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert_every_case_errors_with(done, results, tmp_path / "out", "asked for our client certificate and, once it "
                                  "had it, closed the connection without a TLS alert: it refused the certificate "
                                  "(--cert)")


def test_a_dut_that_refuses_tls_1_2(ours: TestPki, cases: Path, tmp_path: Path) -> None:
    with TlsPeer(server_context_for(ours, minimum=ssl.TLSVersion.TLSv1_3)) as dut:
        done, results = run(dut.url, ours, ours.ca, cases, tmp_path / "out")
    assert_every_case_errors_with(done, results, tmp_path / "out", "the DUT refused TLS 1.2",
                                  "IEEE 2030.5 requires TLS 1.2")


def test_under_pytest_the_advice_names_the_pytest_options(ours: TestPki, theirs: TestPki, cases: Path,
                                                           tmp_path: Path) -> None:
    client = ours.clients["client"]
    with TlsPeer(server_context_for(theirs, client_ca=ours.ca)) as dut:
        done = subprocess.run([sys.executable, "-m", "pytest", str(cases), "-p", "no:cacheprovider", "--csip-dut",
                               dut.url, "--csip-cert", str(client.cert), "--csip-key", str(client.key), "--csip-ca",
                               str(ours.ca), "--csip-out", str(tmp_path / "out")], capture_output=True, text=True,
                              timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "give the CA that issued it with --csip-ca, or --csip-tls-verify none" in done.stdout
    assert dut.connections == 1


def test_a_good_dut_passes_the_pre_flight(reference_server: ReferenceProcess, pki: TestPki) -> None:
    client = pki.clients["client"]
    assert reach_dut(reference_server.base_url, client_context(client.cert, client.key, pki.ca), timeout=5) is None
    assert reach_dut(reference_server.http_url, None, timeout=5) is None  # plain HTTP: a TCP connection is enough


def test_handshake_messages_read_from_a_record_stream() -> None:
    def record(*messages: int) -> bytes:
        body = b"".join(bytes([kind]) + (2).to_bytes(3, "big") + b"xx" for kind in messages)
        return b"\x16\x03\x03" + len(body).to_bytes(2, "big") + body

    assert handshake_messages(record(2, 11) + record(12, 13, 14)) == {2, 11, 12, 13, 14}
    assert handshake_messages(record(2) + b"\x14\x03\x03\x00\x01\x01" + record(20)) == {2}  # ChangeCipherSpec ends it
    assert handshake_messages(b"HTTP/1.1 400 Bad Request\r\n") == set()
