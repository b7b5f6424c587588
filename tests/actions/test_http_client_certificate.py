"""An http action mapping presents a client certificate: in-band pre-registration over mutual TLS, no command."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cases.loader import load_case
from harness.cases.profile import ProfileError, load_profile
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, PASSED, TestRecord
from harness.sep.identity import certificate_der, lfdi
from harness.session import HarnessSession, RunOptions

CASE = """\
id: LAB-040
title: The EndDevice registered in band is there
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
setup:
  - preregister-enddevice: {lfdi: "${client.lfdi}", sfdi: "${client.sfdi}"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200}
    save: {edev: EndDeviceListLink.href}
  - name: GET the EndDeviceList (403 for a client the server does not know)
    request: {method: GET, path: "${edev}"}
    expect: {status: 200}
    save: {mine: "EndDevice[lFDI=${client.lfdi}].href"}
"""

# What an aggregator's registration client POSTs: the new EndDevice (IEEE 2030.5 §6.5.6 / CSIP).
ENDDEVICE = ('<EndDevice xmlns="urn:ieee:std:2030.5:ns"><lFDI>${lfdi}</lFDI><sFDI>${sfdi}</sFDI>'
             "<changedTime>${now}</changedTime></EndDevice>")


@pytest.fixture(scope="module")
def dut(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A server whose registration client is the 'other' certificate; it does not know the harness's 'client'."""
    with start_reference_server(pki, registrars=[pki.clients["other"].cert]) as server:
        yield server


def run(dut: ReferenceProcess, pki: TestPki, tmp_path: Path, mapping: dict) -> TestRecord:
    (tmp_path / "testcases").mkdir(parents=True)
    (tmp_path / "testcases" / "LAB-040.yaml").write_text(CASE)
    profile = {"role": "server", "actions": {"preregister-enddevice": {"http": mapping}}}
    (tmp_path / "dut.yaml").write_text(yaml.safe_dump(profile))
    client = pki.clients["client"]
    session = HarnessSession(RunOptions(dut=dut.base_url, cert=str(client.cert), key=str(client.key),
                                        ca=str(pki.ca), profile=str(tmp_path / "dut.yaml"), unattended=True,
                                        out=str(tmp_path / "out"), variables={"pki_dir": str(pki.ca.parent)}))
    try:
        return session.run(load_case(tmp_path / "testcases" / "LAB-040.yaml"))
    finally:
        session.close()


def mapping(**tls: str) -> dict:
    return {"method": "POST", "url": "${dut}/edev", "headers": {"Content-Type": "application/sep+xml"},
            "body": ENDDEVICE, "expect_status": 201, **tls}


def test_without_a_certificate_the_in_band_registration_cannot_be_made(
    dut: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    shutil.copy(pki.ca, tmp_path / "ca.pem")
    record = run(dut, pki, tmp_path, mapping(ca="ca.pem"))
    assert record.verdict == ERROR and not any(step.exchanges for step in record.steps)
    [action] = record.actions
    assert action.outcome == "failed" and action.detail.startswith(f"POST {dut.base_url}/edev: ConnectError: ")
    # The server wants a client certificate and ends the TLS handshake without one.
    assert "[SSL:" in action.detail, action.detail
    assert action.mapping == "http POST ${dut}/edev"


def test_an_http_mapping_presents_its_client_certificate(dut: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    # cert beside the profile (a relative path), key through a variable: both forms the profile allows.
    shutil.copy(pki.clients["other"].cert, tmp_path / "registrar.pem")
    shutil.copy(pki.ca, tmp_path / "ca.pem")
    record = run(dut, pki, tmp_path, mapping(ca="ca.pem", cert="registrar.pem", key="${pki_dir}/other.key"))
    assert record.verdict == PASSED, record.reason
    [action] = record.actions
    assert action.outcome == "done" and action.detail.startswith(f"POST {dut.base_url}/edev -> 201 ")
    assert action.mapping == "http POST ${dut}/edev with client certificate registrar.pem"
    # The EndDevice it created carries the harness client's LFDI, so the harness is now a known client.
    href = record.steps[1].saved["mine"]
    assert href.startswith("/edev/")
    assert record.steps[1].observed["status"] == 200
    assert lfdi(certificate_der(pki.clients["client"].cert)) in str(record.steps[1].observed["resource"])


def test_a_missing_key_file_fails_the_action_naming_the_files(dut: ReferenceProcess, pki: TestPki,
                                                              tmp_path: Path) -> None:
    record = run(dut, pki, tmp_path, mapping(cert=str(pki.clients["other"].cert), key="${pki_dir}/missing.key"))
    assert record.verdict == ERROR
    assert f"cannot load the mapping's TLS files (cert {pki.clients['other'].cert}, key {pki.ca.parent}/missing.key)" \
        in record.reason


def test_the_profile_resolves_cert_and_key_beside_it_and_wants_cert_with_key(tmp_path: Path) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\nactions:\n  set-pin:\n    http: {url: 'https://x/pin', cert: c.pem, "
                    "key: k/c.key}\n")
    config = load_profile(path).actions["set-pin"].config
    assert config["cert"] == str(tmp_path / "c.pem") and config["key"] == str(tmp_path / "k" / "c.key")
    path.write_text("role: server\nactions:\n  set-pin:\n    http: {url: 'https://x/pin', key: c.key}\n")
    with pytest.raises(ProfileError, match=r"'cert' is a dependency of 'key'"):
        load_profile(path)
