"""The certification report (issue 17) through the real CLI: a run with a lab file and a profile declaring the
DUT's identity renders every field in HTML and PDF; a run without them says "not given"; a DeviceInformation
that contradicts the profile is a warning; the requirement view aggregates; the Required column is the §4
matrix's; times carry milliseconds; the test equipment is recorded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from harness.catalogue import procedures

from .conftest import DEVICE_INFORMATION_CASE, Bundle, run_cli

LAB_FILE = """\
lab: {name: Acme Test Lab, address: "1 Test Road, Springfield", accreditation: "A2LA 1234.01"}
location: Bench 3, building B
tester: {name: Ada Tester, role: test engineer, email: ada@lab.example}
reviewer: {name: Rex Reviewer, role: technical manager}
customer: {name: Inverter Co, address: "9 Sun Street, Solarville"}
report: {number: ATL-2026-0042, revision: 2}
notes: Firmware build under evaluation for the utility's interconnection programme.
"""
# Every value of LAB_FILE as the report must show it.
LAB_VALUES = ("Acme Test Lab", "1 Test Road, Springfield", "A2LA 1234.01", "Bench 3, building B",
              "Ada Tester, test engineer, ada@lab.example", "Rex Reviewer, technical manager", "Inverter Co",
              "9 Sun Street, Solarville", "ATL-2026-0042", "Firmware build under evaluation")
# The reference server serves mfModel "reference", mfHwVer and swVer "1.0", and its SFDI as mfSerNum: the
# serial number declared here differs, the rest matches.
DEVICE = """
device:
  manufacturer: Reference Devices Inc.
  manufacturer_id: 37086
  model: reference
  serial_number: SN-0001
  hardware_version: "1.0"
  software_version: "1.0"
"""
FAILING_MESSAGE = "resource.quality: expected 7, saw '3'"


def _cases(base: Path, project_root: Path) -> Path:
    cases = base / "testcases" / "server"
    cases.mkdir(parents=True)
    for case_id in ("BASIC-001", "CORE-001", "CORE-005"):
        shutil.copy(project_root / "testcases" / "server" / f"{case_id}.yaml", cases)
    (cases / "LAB-001.yaml").write_text(DEVICE_INFORMATION_CASE)
    return cases


@pytest.fixture(scope="module")
def lab_bundle(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Bundle:
    """`run --reference --lab --pdf` with a profile that declares the DUT, CORE-005 failing under its defect."""
    base = tmp_path_factory.mktemp("lab-bundle")
    cases = _cases(base, project_root)
    (base / "lab.yaml").write_text(LAB_FILE)
    profile = base / "dut.yaml"
    profile.write_text((project_root / "fixtures" / "profiles" / "reference-server.yaml").read_text() + DEVICE)
    out = base / "out"
    done = run_cli("run", "--reference", "--defect", "time-wrong-quality", "--cases", str(cases), "--out", str(out),
                   "--lab", str(base / "lab.yaml"), "--profile", str(profile), "--pdf")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "report.pdf" in done.stdout
    return Bundle(out, done.returncode, done.stdout)


def _pdf_pages(path: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&").split())


def test_a_run_with_a_lab_file_and_a_declared_dut_shows_every_field_in_html_and_pdf(lab_bundle: Bundle) -> None:
    html = (lab_bundle.out / "report.html").read_text()
    lab_table = _text(html.split('id="lab-fields"', 1)[1].split("</table>", 1)[0])
    for value in LAB_VALUES:
        assert value in lab_table, value
    assert "not given" not in lab_table
    identity = _text(html.split('id="dut-identity"', 1)[1].split("</table>", 1)[0])
    for value in ("Reference Devices Inc.", "37086", "SN-0001", "Model reference reference"):
        assert value in identity, value
    signatures = _text(html.split('id="approval"', 1)[1].split("</table>", 1)[0])
    assert "Tested by Ada Tester" in signatures and "Reviewed by Rex Reviewer" in signatures
    # The first page states the outcome, then the deviations, then the coverage.
    first = html.index('id="conclusion"'), html.index('id="deviations"'), html.index('id="coverage"')
    assert list(first) == sorted(first)
    assert "Server role:</strong> 1 procedure(s) failed: CORE-005" in html

    pages = _pdf_pages(lab_bundle.out / "report.pdf")
    assert len(pages) >= 3
    text = " ".join(pages)
    for value in (*LAB_VALUES, "Reference Devices Inc.", "SN-0001", "Tested by Ada Tester", "Reviewed by Rex Reviewer"):
        assert value in text, value
    for number, page in enumerate(pages, start=1):
        # Every printed page carries the report number and its page number.
        assert "Report ATL-2026-0042 rev. 2" in page, number
        assert f"Page {number} of {len(pages)}" in page, number
    assert "Server role: 1 procedure(s) failed: CORE-005" in pages[0]
    assert FAILING_MESSAGE in pages[0]  # the deviations table, on the first page
    assert sum(FAILING_MESSAGE in page for page in pages) >= 2  # and again at the failed step itself
    # Page breaks keep a test's header with its steps: each header has its first step on the same page. The PDF
    # details the failed test and the one with a finding (the identity warning); the passed ones are listed.
    headers = []
    header = re.compile(r"([A-Z]+-\d{3}) [^·]{0,80}? (?:passed|failed|error) \d+\.\d{3} s · started \S+")
    for page in pages:
        for match in header.finditer(page):
            headers.append(match.group(1))
            assert " step 1 " in page[match.end():], (match.group(1), page[match.end():][:200])
    assert headers == ["CORE-005", "LAB-001"]
    assert "Passed (3): BASIC-001, CORE-001, LAB-001" in text


def test_a_device_information_that_contradicts_the_profile_is_a_warning(lab_bundle: Bundle) -> None:
    document = json.loads((lab_bundle.out / "results.json").read_text())
    dut = document["run"]["dut"]
    assert dut["declared"]["serial_number"] == "SN-0001"
    assert [(m["field"], m["element"], m["declared"]) for m in dut["identity_mismatches"]] == [
        ("serial_number", "mfSerNum", "SN-0001")]
    lab = next(t for t in document["tests"] if t["id"] == "LAB-001")
    assert lab["verdict"] == "passed"  # a warning, never a failure
    findings = [f for s in lab["steps"] for f in s["findings"] if f["kind"] == "identity"]
    assert [(f["severity"], f["path"]) for f in findings] == [("warning", "DeviceInformation/mfSerNum")]
    assert "declares device.serial_number: 'SN-0001'" in findings[0]["message"]
    html = (lab_bundle.out / "report.html").read_text()
    assert 'id="identity-warning"' in html and "mfSerNum is " in html
    mismatched = re.findall(r'<tr class="mismatch"><th scope="row">([^<]+)</th>', html)
    assert mismatched == ["Serial number"]
    verify = run_cli("verify", str(lab_bundle.out))  # report.pdf is part of the sealed bundle
    assert verify.returncode == 0 and "report.pdf" in (lab_bundle.out / "MANIFEST.sha256").read_text()


def test_a_run_without_lab_file_or_declared_identity_says_not_given(failed_bundle: Bundle, tmp_path: Path) -> None:
    html = (failed_bundle.out / "report.html").read_text()
    rows = re.findall(r"<tr><th>([^<]+)</th><td([^>]*)>([^<]*)</td></tr>",
                      html.split('id="lab-fields"', 1)[1].split("</table>", 1)[0])
    labels = [label for label, _, _ in rows]
    assert labels[:11] == ["Report number", "Revision", "Test laboratory", "Laboratory address", "Accreditation",
                           "Test location", "Customer", "Customer address", "Tester", "Reviewer", "Notes"]
    assert all(value == "not given" for _, _, value in rows[:11])
    assert "No lab file was given" in html and "Report not given" in html
    identity = html.split('id="dut-identity"', 1)[1].split("</table>", 1)[0]
    assert identity.count('<td class="muted">not given</td>') == 6  # nothing declared in the reference profile
    assert 'id="identity-warning"' not in html

    pdf = tmp_path / "plain.pdf"
    done = run_cli("report", str(failed_bundle.out / "results.json"), "--pdf", str(pdf))
    assert done.returncode == 0, done.stdout + done.stderr
    pages = _pdf_pages(pdf)
    assert all("Report not given" in page for page in pages)
    assert "Report number not given" in " ".join(pages) and "Tested by not given" in " ".join(pages)
    assert not (failed_bundle.out / "report.pdf").exists()  # --pdf only when asked


def test_the_requirement_view_fails_a_requirement_one_citing_case_failed(failed_bundle: Bundle,
                                                                        tmp_path: Path) -> None:
    document = json.loads((failed_bundle.out / "results.json").read_text())
    for test in document["tests"]:
        # GEN.021 cited by a passing and the failing case; TIME.001 by the failing one; SEC.001 by a passing one.
        extra = {"CORE-005": ["GEN.021", "TIME.001"], "CORE-004": ["GEN.021"], "BASIC-001": ["SEC.001"]}
        test["requirements"] = sorted(set(test.get("requirements", [])) | set(extra.get(test["id"], [])))
    results = tmp_path / "results.json"
    results.write_text(json.dumps(document))
    done = run_cli("report", str(results), "-o", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "report.html").read_text()

    def verdict(requirement: str) -> str:
        row = html.split(f'<tr id="req-{requirement}">', 1)[1].split("</tr>", 1)[0]
        return re.search(r'<span class="b (\w+)">', row).group(1)

    assert verdict("GEN.021") == "failed"
    assert verdict("TIME.001") == "failed"
    assert verdict("SEC.001") == "passed"
    cited = {r for t in document["tests"] for r in t["requirements"]}
    assert len(re.findall(r'<tr id="req-', html)) == len(cited)
    row = html.split('<tr id="req-GEN.021">', 1)[1].split("</tr>", 1)[0]
    assert "CORE-004</a> (passed)" in row and "CORE-005</a> (failed)" in row


def test_the_required_column_is_the_conformance_matrix_column_of_the_role(failed_bundle: Bundle) -> None:
    # The §4 matrix leaves CORE-001, 002 and 004 blank (optional for every role); COMM-003 and CORE-005 are X.
    catalogue = procedures()
    assert [catalogue[p].required_for for p in ("CORE-001", "CORE-002", "CORE-004")] == [(), (), ()]
    assert "server" in catalogue["COMM-003"].required_for and "server" in catalogue["CORE-005"].required_for
    html = (failed_bundle.out / "report.html").read_text()
    coverage = html.split('<h2 id="coverage">', 1)[1].split('<div class="untested"', 1)[0]
    assert "<th>Required (Server)</th>" in coverage and "§4 Profile Test Conformance matrix's Server column" in coverage
    row = coverage.split('href="#tCORE-001">CORE-001</a>', 1)[1].split("</tr>", 1)[0]
    assert "<td>no (optional)</td>" in row
    row = coverage.split('href="#tCORE-005">CORE-005</a>', 1)[1].split("</tr>", 1)[0]
    assert "<td>yes</td>" in row
    untested = html.split('<div class="untested" id="not-tested">', 1)[1].split("</div>", 1)[0]
    assert "COMM-003*" in untested and "COMM-001," in untested  # * marks a required procedure not tested


def test_times_carry_milliseconds_and_the_test_equipment_is_recorded(failed_bundle: Bundle) -> None:
    run = json.loads((failed_bundle.out / "results.json").read_text())["run"]
    for key in ("started", "ended"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", run[key]), run[key]
    equipment = run["equipment"]
    assert equipment["host"] and equipment["os"] and equipment["python"].split()[1].startswith("3.")
    assert equipment["openssl"].startswith("OpenSSL")
    assert {"lxml", "httpx"} <= set(equipment["libraries"])
    source = equipment["harness"]["source"]  # the tests run from a git checkout
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and isinstance(source["dirty"], bool)
    html = (failed_bundle.out / "report.html").read_text()
    run_table = _text(html.split('<h2 id="run">', 1)[1])
    assert f"git commit {source['commit']}" in run_table
    assert f"lxml {equipment['libraries']['lxml']}" in run_table and equipment["openssl"] in run_table
    assert run["schema"]["sha256"] in run_table and "Time scale 1" in run_table
    assert run["started"] in html


def test_a_bad_lab_file_is_a_usage_error_naming_file_and_line(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("lab: {name: Acme}\ntester: {name: Ada, phone: 123}\n")
    done = run_cli("run", "--reference", "--lab", str(lab), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: --lab: {lab}:2" in done.stderr and "phone" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
    missing = run_cli("report", str(tmp_path / "nothing.json"), "--lab", str(lab))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_deviations_list_waivers_and_the_conclusion_says_incomplete_on_errors(failed_bundle: Bundle,
                                                                             tmp_path: Path) -> None:
    document = json.loads((failed_bundle.out / "results.json").read_text())
    for test in document["tests"]:
        if test["id"] == "CORE-005":  # the failure becomes a harness error: no procedure failed, one not judged
            test["verdict"], test["reason"] = "error", "connection reset by the DUT's network"
            test["steps"][1]["verdict"], test["steps"][1]["message"] = "error", "connection reset"
        if test["id"] == "BASIC-001":
            test["steps"][0]["verdict"] = "waived"
            test["waivers"] = [{"step": 1, "reason": "lab waiver 7: accepted by the customer", "status": "applied"}]
    results = tmp_path / "results.json"
    results.write_text(json.dumps(document))
    done = run_cli("report", str(results), "-o", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "report.html").read_text()
    assert ('<p class="conclusion incomplete"><strong>Server role:</strong> Incomplete: 1 procedure(s) ended in '
            "error (CORE-005) and could not be judged; no procedure run failed") in html
    table = html.split('<h3 id="deviations">Deviations (2)</h3>', 1)[1].split("</table>", 1)[0]
    rows = [_text(row) for row in table.split("<tr>")[2:]]
    assert rows == ["BASIC-001 waived 1 lab waiver 7: accepted by the customer",  # in run order
                    "CORE-005 error 2 connection reset"]


def test_plain_pytest_takes_the_lab_file_and_the_pdf_from_the_ini_file(project_root: Path, tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text("report: {number: INI-7}\ntester: {name: Ini Tester}\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ncsip_reference = true\ncsip_out = out\ncsip_lab = lab.yaml\n"
                                         "csip_pdf = true\n")
    case = project_root / "testcases" / "server" / "CORE-001.yaml"
    done = subprocess.run([sys.executable, "-m", "pytest", str(case), "-c", str(tmp_path / "pytest.ini"),
                           "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=tmp_path, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads((tmp_path / "out" / "results.json").read_text())["run"]
    assert run["lab"]["file"] == str(tmp_path / "lab.yaml") and run["lab"]["report"] == {"number": "INI-7"}
    pages = _pdf_pages(tmp_path / "out" / "report.pdf")
    assert all("Report INI-7" in page for page in pages) and "Tested by Ini Tester" in " ".join(pages)
