"""TLS verification of the DUT: full, chain or none, chosen in the profile or on the command line, and recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.cases.profile import ProfileError, load_profile
from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.report.document import schema_errors
from harness.results import ERROR, PASSED
from harness.session import HarnessSession, RunOptions, SessionConfigError

CASE = """\
id: LAB-020
title: DeviceCapability over TLS
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200, schema: DeviceCapability}
"""


@pytest.fixture(scope="module")
def san_less_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A PKI whose server certificate names dut.invalid only, never the 127.0.0.1 the DUT is reached at."""
    return make_test_pki(tmp_path_factory.mktemp("san-less"), server_hosts=("dut.invalid",))


@pytest.fixture(scope="module")
def san_less_dut(san_less_pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(san_less_pki) as server:
        yield server


def write_case(directory: Path) -> Path:
    cases = directory / "testcases"
    cases.mkdir(parents=True, exist_ok=True)
    (cases / "LAB-020.yaml").write_text(CASE)
    return cases / "LAB-020.yaml"


def run_session(dut: ReferenceProcess, pki: TestPki, ca: Path, tmp_path: Path, *, profile_verify: str | None,
                option: str | None) -> tuple[str, str, dict, str]:
    """One run of LAB-020: verdict, reason, results.json and report.html."""
    profile = tmp_path / "dut.yaml"
    profile.write_text("role: server\n" + (f"tls: {{verify: {profile_verify}}}\n" if profile_verify else ""))
    client = pki.clients["client"]
    out = tmp_path / "out"
    session = HarnessSession(RunOptions(dut=dut.base_url, cert=str(client.cert), key=str(client.key), ca=str(ca),
                                        profile=str(profile), out=str(out), tls_verify=option))
    try:
        record = session.run(load_case(write_case(tmp_path)))
    finally:
        session.close()
    return record.verdict, record.reason, json.loads((out / "results.json").read_text()), \
        (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("profile_verify", "option", "right_ca", "mode", "verdict", "words"),
    [
        (None, None, True, "full", ERROR, "IP address mismatch"),  # the default names the host: no SAN, no pass
        ("chain", None, True, "chain", PASSED, ""),
        # The chain still counts: another CA of the same name does not sign the DUT's certificate.
        ("chain", None, False, "chain", ERROR, "certificate signature failure"),
        ("none", None, False, "none", PASSED, ""),
        ("false", None, False, "none", PASSED, ""),
        ("true", None, True, "full", ERROR, "IP address mismatch"),
        ("none", "full", True, "full", ERROR, "IP address mismatch"),  # the command line wins over the profile
        ("full", "chain", True, "chain", PASSED, ""),
    ],
)
def test_each_mode_verifies_what_it_says_and_is_recorded(
    san_less_dut: ReferenceProcess, san_less_pki: TestPki, pki: TestPki, tmp_path: Path,
    profile_verify: str | None, option: str | None, right_ca: bool, mode: str, verdict: str, words: str,
) -> None:
    ca = san_less_pki.ca if right_ca else pki.ca  # pki: another CA altogether
    seen, reason, results, html = run_session(san_less_dut, san_less_pki, ca, tmp_path,
                                              profile_verify=profile_verify, option=option)
    assert seen == verdict, reason
    if verdict == ERROR:
        # Found by the pre-flight before the case runs, in a sentence naming the options that fix it.
        assert reason.startswith("pre-flight: the DUT's certificate is not trusted") and words in reason
        assert "CERTIFICATE_VERIFY_FAILED" in reason and "--csip-tls-verify" in reason
    assert results["run"]["tls"]["verify"] == mode and schema_errors(results) == []
    assert f"<strong>{mode}</strong> — " in html
    # Anything short of full is flagged twice: in the run identity and at the top of the report.
    assert ('<span class="warn"><strong>' in html) == (mode != "full")
    assert ('id="tls-warning"' in html) == (mode != "full")


@pytest.mark.long_run
def test_the_cli_option_and_the_pytest_option_and_ini_key(
    san_less_dut: ReferenceProcess, san_less_pki: TestPki, tmp_path: Path
) -> None:
    client = san_less_pki.clients["client"]
    case = write_case(tmp_path)
    identity = ["--cert", str(client.cert), "--key", str(client.key), "--ca", str(san_less_pki.ca)]
    env = {**os.environ}
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--dut", san_less_dut.base_url, *identity,
                           "--cases", str(case), "--out", str(tmp_path / "cli"), "--tls-verify", "chain"],
                          capture_output=True, text=True, timeout=120, check=False, env=env, start_new_session=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "cli" / "results.json").read_text())["run"]["tls"]["verify"] == "chain"

    (tmp_path / "pytest.ini").write_text(f"[pytest]\ncsip_tls_verify = chain\ncsip_dut = {san_less_dut.base_url}\n"
                                         f"csip_cert = {client.cert}\ncsip_key = {client.key}\n"
                                         f"csip_ca = {san_less_pki.ca}\n")
    runs = {}
    for name, extra in (("ini", []), ("option", ["--csip-tls-verify", "full"])):
        out = tmp_path / name
        runs[name] = subprocess.run(
            [sys.executable, "-m", "pytest", str(case), "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider",
             "--csip-out", str(out), *extra], capture_output=True, text=True, cwd=tmp_path, timeout=120,
            check=False, env=env)
    assert runs["ini"].returncode == 0, runs["ini"].stdout + runs["ini"].stderr
    assert json.loads((tmp_path / "ini" / "results.json").read_text())["run"]["tls"]["verify"] == "chain"
    # The command line wins over the ini file; full verification refuses the certificate that names no 127.0.0.1.
    assert runs["option"].returncode == 1 and "IP address mismatch" in runs["option"].stdout
    assert json.loads((tmp_path / "option" / "results.json").read_text())["run"]["tls"]["verify"] == "full"

    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--dut", san_less_dut.base_url, *identity,
                           "--tls-verify", "sometimes"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--tls-verify: invalid choice: 'sometimes'" in done.stderr


def test_a_wrong_mode_is_refused_where_it_was_written(pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "dut.yaml"
    profile.write_text("role: server\ntls:\n  verify: sometimes\n")
    with pytest.raises(ProfileError) as info:
        load_profile(profile)
    assert info.value.line == 3 and "tls/verify" in str(info.value)
    profile.write_text("role: server\ntls: {verify: false}\n")
    assert load_profile(profile).tls_verify == "none" and not load_profile(profile).verify_tls
    client = pki.clients["client"]
    with pytest.raises(SessionConfigError, match=r"--csip-tls-verify: expected TLS verification full, chain or "
                                                 r"none \(or true/false\), saw 'sometimes'"):
        HarnessSession(RunOptions(dut="https://127.0.0.1:9", cert=str(client.cert), key=str(client.key),
                                  ca=str(pki.ca), profile=str(profile), tls_verify="sometimes"))


def test_results_from_before_the_mode_was_recorded_say_so(san_less_dut: ReferenceProcess, san_less_pki: TestPki,
                                                           tmp_path: Path) -> None:
    from harness.report.html import render_html

    _, _, results, _ = run_session(san_less_dut, san_less_pki, san_less_pki.ca, tmp_path, profile_verify="chain",
                                   option=None)
    del results["run"]["tls"]
    assert schema_errors(results) == []
    html = render_html(results)
    assert "not recorded (results written before the harness recorded it)" in html and 'id="tls-warning"' not in html
