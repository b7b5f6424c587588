"""The csip-harness command line, end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep.identity import certificate_der, lfdi, sfdi

VALID_TIME = (
    '<Time xmlns="urn:ieee:std:2030.5:ns" href="/tm"><currentTime>1700000000</currentTime>'
    "<dstEndTime>1699164000</dstEndTime><dstOffset>3600</dstOffset><dstStartTime>1678604400</dstStartTime>"
    "<quality>7</quality><tzOffset>-18000</tzOffset></Time>"
)


REFERENCE_PROFILE = Path(__file__).resolve().parent.parent / "fixtures" / "profiles" / "reference-server.yaml"
SERVER_CASES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "testcases" / "server").glob("*.yaml"))


# A guard against a hung run, not a speed check (bench/ measures speed): the whole catalogue at --time-scale 0.01
# takes a minute or two, more on a loaded machine.
def cli(*args: str, cwd: Path | None = None, timeout: float = 600,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, check=False, env={**os.environ, **(env or {})},
                          start_new_session=True)  # no controlling terminal: never an operator prompt



def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


@pytest.mark.long_run
def test_run_reference_passes_and_writes_every_artefact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The event cases wait minutes on the server's clock; at 0.01 the reference's runs 100 times as fast.
    # The whole server catalogue: about a minute on an idle machine, several on a loaded one.
    done = cli("run", "--reference", "--time-scale", "0.01", "--out", str(out), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    document = results(out)
    assert document["format"] == "csip-harness-results" and document["run"]["complete"] is True
    count = len(SERVER_CASES)
    assert document["summary"] == {"passed": count, "failed": 0, "error": 0, "skipped": 0, "not_applicable": 0,
                                   "total": count}
    assert {t["id"] for t in document["tests"]} == set(SERVER_CASES)
    assert document["run"]["time_scale"] == 0.01
    assert document["run"]["late_s"] == 30  # the waits' lateness tolerance: 5 s of wall time / 0.01, capped at 30
    assert all(t["role"] == "server" and t["verdict"] == "passed" for t in document["tests"])
    assert document["run"]["schema"]["name"] == "bundled CSIP schema"
    assert len(document["run"]["schema"]["sha256"]) == 64
    html = (out / "report.html").read_text()
    assert "CORE-004" in html and f'<span class="num">{count}</span>passed' in html and "<script" not in html
    assert "(compressed: a development run, not a certification run)" in html
    assert "http://" not in html.split("<body>")[0]
    junit = ET.parse(out / "junit.xml").getroot()
    properties = {(p.get("name"), p.get("value")) for p in junit.iter("property")}
    assert ("csip_id", "CORE-004") in properties and ("verdict", "passed") in properties


def test_run_reference_with_a_defect_fails_naming_step_field_expected_seen(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Three cases that read the Time resource and one that does not: the defect fails only the case it breaks.
    # (Every case under its defects is proven in test_reference_verdicts; this is the CLI's account of one.)
    done = cli("run", "--reference", "--defect", "time-wrong-quality", "--time-scale", "0.01", "--out", str(out),
               "-k", "CORE-005 or CORE-001 or BASIC-027 or COMM-002", timeout=600)
    assert done.returncode == 1
    assert "step 2 'GET Time through the TimeLink; quality is 7'" in done.stdout
    assert "resource.quality: expected 7, saw '3'" in done.stdout
    verdicts = {t["id"]: t["verdict"] for t in results(out)["tests"]}
    assert verdicts.pop("CORE-005") == "failed" and verdicts == dict.fromkeys(["CORE-001", "BASIC-027", "COMM-002"],
                                                                               "passed")


@pytest.mark.long_run
def test_run_against_a_separately_started_dut_sets_up_every_case_through_http_templates(
    pki: TestPki, project_root: Path, tmp_path: Path
) -> None:
    client = pki.clients["client"]
    profile = project_root / "fixtures" / "profiles" / "reference-server-http.yaml"
    out = tmp_path / "out"
    # Its clock runs 100 times as fast (the profile says it may); the run is told the scale and its origin.
    with start_reference_server(pki, time_scale=0.01, timeout=60) as reference_server:
        done = cli("run", "--dut", reference_server.base_url, "--http-url", reference_server.http_url,
                   "--cert", str(client.cert), "--key", str(client.key), "--ca", str(pki.ca),
                   "--profile", str(profile), "--var", f"admin_url={reference_server.admin_url}", "--unattended",
                   *[item for name, value in reference_server.pki_dirs.items()
                     for item in ("--var", f"{name}={value}")],
                   "--time-scale", "0.01", "--out", str(out), "--", "--csip-time-origin",
                   repr(reference_server.time_origin), env={"REFERENCE_ADMIN_TOKEN": reference_server.admin_token},
                   timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = {t["id"]: t for t in results(out)["tests"]}
    # COMM-001 asks for the capability xmdns, which this profile leaves out: a separately started server's xmDNS
    # address is not given to the run, so that case is not applicable here, with its reason.
    assert {i: t["verdict"] for i, t in tests.items()} == {**dict.fromkeys(SERVER_CASES, "passed"),
                                                           "COMM-001": "not_applicable"}
    assert tests["COMM-001"]["reason"] == "the DUT profile does not declare: xmdns"
    assert ("create-dercontrol", "done", "http") in [
        (a["name"], a["outcome"], a["mapping"].split()[0]) for a in tests["BASIC-019"]["actions"]]
    actions = {i: [(a["name"], a["outcome"], a["mapping"].split()[0]) for a in t["actions"]] for i, t in tests.items()}
    assert actions["CORE-005"] == [("configure-time", "done", "http")]
    assert actions["CORE-004"] == [("preregister-enddevice", "done", "http"), ("create-enddevices", "done", "http"),
                                   ("create-derprograms", "done", "http"), ("preregister-enddevice", "done", "http"),
                                   *[("create-aggregator-enddevices", "done", "http")] * 3]
    # Every case that sets something up does so through the profile's http templates.
    cases = {path.stem: load_case(path) for path in (project_root / "testcases" / "server").glob("*.yaml")}
    assert all(bool(a) == bool(cases[i].setup) and all(outcome == "done" and kind == "http" for _, outcome, kind in a)
               for i, a in actions.items() if i != "COMM-001")
    basic = tests["BASIC-001"]["actions"][0]
    assert basic["params"]["lfdi"] == lfdi(certificate_der(client.cert)) and basic["params"]["pin"] == 111115
    assert basic["detail"].startswith(f"POST {reference_server.admin_url}/admin/end-devices -> 20")
    assert basic["duration_s"] > 0 and basic["started"] > 0
    assert reference_server.admin_token not in (out / "results.json").read_text()


def test_an_untrusted_dut_certificate_is_an_error_not_a_failure(reference_server: ReferenceProcess, pki: TestPki,
                                                               tmp_path: Path) -> None:
    client = pki.clients["client"]
    out = tmp_path / "out"
    done = cli("run", "--dut", reference_server.base_url, "--cert", str(client.cert), "--key", str(client.key),
               "--ca", str(client.cert), "--out", str(out), "-k", "CORE-005", "--profile", str(REFERENCE_PROFILE),
               *reference_server.admin_options())
    assert done.returncode == 1
    [test] = results(out)["tests"]
    # Found by the pre-flight, before the case: the reason names the cause and the options that fix it.
    assert test["verdict"] == "error" and test["reason"].startswith("pre-flight: the DUT's certificate is not trusted")
    assert "CERTIFICATE_VERIFY_FAILED" in test["reason"] and "--ca" in test["reason"]


def test_a_malformed_case_file_is_an_error_with_file_and_line_and_the_others_run(
    reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    cases = tmp_path / "testcases" / "server"
    cases.mkdir(parents=True)
    (cases / "CORE-005.yaml").write_text(
        "id: CORE-005\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
        "  - name: s\n    request: {method: GET, path: /dcap}\n    expect: {status: 200, bogus: 1}\n"
    )
    (cases / "CORE-006.yaml").write_text(
        "id: CORE-006\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
        "  - name: GET dcap\n    request: {method: GET, path: /dcap}\n    expect: {status: 200}\n"
    )
    client = pki.clients["client"]
    out = tmp_path / "out"
    done = cli("run", "--dut", reference_server.base_url, "--cert", str(client.cert), "--key", str(client.key),
               "--ca", str(pki.ca), "--cases", str(cases), "--out", str(out))
    assert done.returncode == 1
    where = f"{cases / 'CORE-005.yaml'}:8: step 1 ('s'): expect: Additional properties are not allowed"
    assert where in done.stdout
    assert "test-case files that could not be loaded" in done.stdout
    assert re.search(r"1 passed, (\d+ warnings?, )?1 error", done.stdout), done.stdout
    tests = {test["id"]: test for test in results(out)["tests"]}
    assert tests["CORE-005"]["verdict"] == "error" and where in tests["CORE-005"]["reason"]
    assert tests["CORE-005"]["reason"].startswith("test-case file could not be loaded: ")
    assert tests["CORE-006"]["verdict"] == "passed"
    report = (out / "report.html").read_text()
    assert "could not be loaded" in report and "CORE-006" in report


def test_run_without_a_dut_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--out", str(tmp_path))
    assert done.returncode == 2 and "--dut" in done.stderr


def test_an_unknown_defect_is_refused_with_the_known_names(tmp_path: Path) -> None:
    done = cli("run", "--reference", "--defect", "no-such-defect", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "no-such-defect" in done.stderr and "wrong-pin" in done.stderr


def test_validate_exit_codes_and_findings(tmp_path: Path) -> None:
    good, bad, hostile = tmp_path / "good.xml", tmp_path / "bad.xml", tmp_path / "hostile.xml"
    good.write_text(VALID_TIME)
    bad.write_text(VALID_TIME.replace("<quality>7</quality>", "<quality>seven</quality>"))
    hostile.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Time>&e;</Time>')
    assert cli("validate", str(good)).returncode == 0
    done = cli("validate", str(bad))
    assert done.returncode == 1 and f"{bad}:1:" in done.stdout and "quality" in done.stdout
    done = cli("validate", str(hostile))
    assert done.returncode == 1 and "DOCTYPE" in done.stdout and "root:" not in done.stdout
    done = cli("validate", "--root", "DeviceCapability", str(good))
    assert done.returncode == 1 and "expected root element DeviceCapability" in done.stdout
    done = cli("validate", "--schema", str(tmp_path / "missing.xsd"), str(good))
    assert done.returncode == 2 and "missing.xsd" in done.stderr


def test_lfdi_prints_the_identity_of_a_certificate(pki: TestPki) -> None:
    cert = pki.clients["client"].cert
    done = cli("lfdi", str(cert))
    der = certificate_der(cert)
    assert done.returncode == 0
    assert f"LFDI: {lfdi(der)}" in done.stdout and f"SFDI: {sfdi(der)}" in done.stdout


def test_defects_cases_and_pki(tmp_path: Path) -> None:
    done = cli("defects")
    assert done.returncode == 0 and len(done.stdout.splitlines()) >= 10 and "list-ignores-limit" in done.stdout
    done = cli("cases")
    assert done.returncode == 0 and "CORE-004   server  List Handling" in done.stdout
    done = cli("pki", "--out", str(tmp_path / "pki"))
    assert done.returncode == 0
    assert {p.name for p in (tmp_path / "pki").iterdir()} >= {"ca.pem", "server.pem", "client.pem", "client.key"}


@pytest.mark.parametrize("option", ["--csip-dut", "--csip-profile", "--csip-schema", "--csip-out"])
def test_pytest_knows_the_plugin_options(option: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, check=False)
    assert option in done.stdout


def test_plain_pytest_with_ini_options_and_the_command_line_winning(
    reference_server: ReferenceProcess, pki: TestPki, project_root: Path, tmp_path: Path
) -> None:
    client = pki.clients["client"]
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        f"csip_dut = https://127.0.0.1:9\n"
        f"csip_cert = {client.cert}\ncsip_key = {client.key}\ncsip_ca = {pki.ca}\n"
        "csip_profile = dut.yaml\ncsip_out = out\n"
        f"csip_vars =\n    admin_url={reference_server.admin_url}\n    admin_token={reference_server.admin_token}\n"
    )
    (tmp_path / "dut.yaml").write_text("role: server\ncapabilities: [time]\nactions: {configure-time: {builtin: }}\n")
    case = project_root / "testcases" / "server" / "CORE-005.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(case), "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider",
         "--csip-dut", reference_server.base_url, "--junitxml", str(tmp_path / "junit.xml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = results(tmp_path / "out")
    assert document["run"]["dut"]["url"] == reference_server.base_url
    assert document["run"]["dut"]["profile"] == str(tmp_path / "dut.yaml")
    assert [(t["id"], t["verdict"]) for t in document["tests"]] == [("CORE-005", "passed")]


def test_serve_prints_what_a_profile_needs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import re
    import signal

    import httpx

    with subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--out", str(tmp_path / "ref")],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            lines = [process.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
            admin = re.search(r"admin interface: (http://127\.0\.0\.1:\d+)  token: (\S+)", "".join(lines))
            assert admin, lines
            state = httpx.get(f"{admin[1]}/admin/state", headers={"Authorization": f"Bearer {admin[2]}"})
            assert state.status_code == 200 and state.json()["end_devices"] == []
            assert re.search(r"reference 2030.5 server: https://127\.0\.0\.1:\d+/dcap", lines[0])
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0


def test_capabilities_lists_each_name_its_meaning_and_the_cases_using_it() -> None:
    done = cli("capabilities")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("plain-http ") and "http_url" in line for line in lines)
    used = lines[lines.index(next(line for line in lines if line.startswith("plain-http "))) + 1]
    assert "used by: CORE-001 step 1, CORE-001 step 2, CORE-002 step 1, CORE-002 step 2" in used
    assert "time-synchronised" in done.stdout and "used by: CORE-005 step 3" in done.stdout


def test_actions_names_the_cases_that_use_each_action() -> None:
    done = cli("actions", "--role", "server")
    assert done.returncode == 0, done.stderr
    # A setup action is used by the case; an action step by "CASE step N", each named once, in order.
    block = done.stdout.split("create-derprograms  (server DUT)", 1)[1].split("\n", 3)
    used = block[2].strip().removeprefix("used by: ").split(", ")
    assert {"BASIC-020", "CORE-004"} <= set(used) and used == sorted(set(used))
    block = done.stdout.split("create-dercontrol  (server DUT)", 1)[1].split("\n", 3)
    used = block[2].strip().removeprefix("used by: ").split(", ")
    assert {"BASIC-017 step 7", "BASIC-019 step 9", "BASIC-019 step 10", "BASIC-002"} <= set(used)
    assert used == sorted(set(used))


def test_a_profile_with_an_unknown_capability_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "dut.yaml").write_text("role: server\ncapabilities: [time, edev-lst]\n")
    done = cli("run", "--dut", "https://127.0.0.1:9", "--profile", str(tmp_path / "dut.yaml"), "--cert", __file__,
               "--key", __file__, "--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert f"{tmp_path / 'dut.yaml'}:2: capabilities: unknown capability 'edev-lst'; did you mean 'edev-list'?" in (
        done.stdout + done.stderr)


def test_a_time_scale_outside_0_to_1_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--reference", "--time-scale", "2", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "--time-scale: expected F with 0 < F <= 1" in done.stderr and "saw 2" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_time_scale_against_a_dut_whose_profile_does_not_allow_it_is_refused_before_any_case_runs(
    reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    client = pki.clients["client"]
    profile = tmp_path / "real-dut.yaml"
    profile.write_text("role: server\ncapabilities: [time]\n")
    out = tmp_path / "out"
    done = cli("run", "--dut", reference_server.base_url, "--cert", str(client.cert), "--key", str(client.key),
               "--ca", str(pki.ca), "--profile", str(profile), "--time-scale", "0.5", "--out", str(out))
    assert done.returncode != 0
    assert "a time scale other than 1 needs a DUT that runs its clock faster" in done.stdout + done.stderr
    assert "does not say 'time_scale: true'" in done.stdout + done.stderr
    assert not (out / "results.json").exists()
