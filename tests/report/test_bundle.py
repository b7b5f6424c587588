"""The evidence bundle of a real run: schema-valid results, raw exchanges, summary CSV, manifest and verify."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.catalogue import for_role
from harness.cli import main
from harness.report.document import load_results, schema_errors
from harness.report.manifest import MANIFEST
from harness.sep.identity import certificate_der, fingerprint, lfdi, sfdi

from .conftest import Bundle, run_cli

# One file of each kind the bundle holds.
BUNDLE_FILES = ["results.json", "report.html", "junit.xml", "csip-summary.csv", "exchanges/CORE-005/2-1.http"]


def document(bundle: Bundle) -> dict:
    return json.loads((bundle.out / "results.json").read_text())


def test_results_match_the_json_schema_and_name_the_dut(failed_bundle: Bundle) -> None:
    results = document(failed_bundle)
    assert schema_errors(results) == []
    assert results["format_version"] == 3 and results["run"]["complete"] is True
    dut = results["run"]["dut"]
    server_der = certificate_der(failed_bundle.out / "pki" / "server.pem")
    assert dut["certificate_sha256"] == fingerprint(server_der)
    assert dut["lfdi"] == lfdi(server_der) and dut["sfdi"] == sfdi(server_der)
    assert len(dut["profile_sha256"]) == 64
    info = dut["device_information"]
    assert info["mfModel"] == "reference" and info["swVer"] == "1.0"
    assert info["source"].startswith("response of GET https://127.0.0.1:") and "LAB-001 step 3" in info["source"]
    for test in results["tests"]:
        assert len(test["case_sha256"]) == 64 and test["case_version"].isdigit()


def test_schema_refuses_what_is_not_a_results_document(failed_bundle: Bundle) -> None:
    results = document(failed_bundle)
    results["tests"][0]["verdict"] = "sort of passed"
    del results["run"]["started"]
    errors = schema_errors(results)
    assert any(e.startswith("tests/0/verdict:") for e in errors) and any("'started'" in e for e in errors)


def test_every_exchange_is_a_raw_file_with_timestamps(failed_bundle: Bundle) -> None:
    results = document(failed_bundle)
    exchanges = [e for t in results["tests"] for s in t["steps"] for e in s["exchanges"]]
    files = sorted(p.relative_to(failed_bundle.out).as_posix() for p in (failed_bundle.out / "exchanges").rglob("*"))
    assert sorted(e["evidence"] for e in exchanges) == [f for f in files if f.endswith(".http")]
    raw = (failed_bundle.out / "exchanges" / "CORE-005" / "2-1.http").read_text()
    assert re.search(r"^# request sent: \d{4}-\d\d-\d\dT[\d:.]+\+00:00 \(\d+\.\d{6}\)$", raw, re.M)
    assert re.search(r"^# response received: .*ms after the request\)$", raw, re.M)
    assert "\nGET /tm HTTP/1.1\n" in raw and "\nHTTP/1.1 200 OK\n" in raw and "<quality>3</quality>" in raw
    assert "# tls: version=TLSv1.2, cipher=ECDHE-ECDSA-AES128-CCM8" in raw
    assert re.search(r"^# tls certificate 0: subject CN=server,O=csip-harness test PKI; issuer CN=csip-harness test "
                     r"CA,O=csip-harness test PKI; valid .* to .*; EC secp256r1; sha256 [0-9A-F]{64}$", raw, re.M)
    assert "# tls certificate 1: subject CN=csip-harness test CA," in raw


def test_the_report_shows_the_certificate_chain_the_dut_presented(failed_bundle: Bundle) -> None:
    tls = document(failed_bundle)["tests"][0]["steps"][0]["exchanges"][-1]["tls"]
    leaf, ca = tls["certificate_chain"]
    assert leaf["sha256"] == tls["peer_certificate_sha256"] and leaf["issuer"] == ca["subject"] == ca["issuer"]
    assert leaf["signature"] == "ecdsa-with-SHA256" and leaf["key"] == "EC secp256r1"
    html = (failed_bundle.out / "report.html").read_text()
    assert "Certificate presented by the DUT (leaf first)" in html
    assert f'<td class="mono">{ca["sha256"]}</td>' in html


def test_summary_csv_has_one_row_per_procedure_of_the_role(failed_bundle: Bundle) -> None:
    with (failed_bundle.out / "csip-summary.csv").open(newline="") as stream:
        rows = {row["procedure"]: row for row in csv.DictReader(stream)}
    assert list(rows) == [p.id for p in for_role("server")]
    assert (rows["CORE-005"]["verdict"], rows["CORE-005"]["trr_result"]) == ("failed", "FAIL")
    assert "resource.quality: expected 7, saw '3'" in rows["CORE-005"]["reason"]
    assert (rows["CORE-004"]["verdict"], rows["CORE-004"]["trr_result"]) == ("passed", "PASS")
    assert (rows["COMM-001"]["verdict"], rows["COMM-001"]["trr_result"]) == ("not_run", "")
    assert rows["BASIC-001"]["required"] == "yes" and rows["BASIC-001"]["title"] == "DER Identification"


def test_junit_names_each_case_and_its_verdict(failed_bundle: Bundle, project_root: Path) -> None:
    junit = ET.parse(failed_bundle.out / "junit.xml").getroot()
    properties = {}
    for case in junit.iter("testcase"):
        found = {p.get("name"): p.get("value") for p in case.iter("property")}
        properties[found["csip_id"]] = found["verdict"]
    assert properties["CORE-005"] == "failed" and properties["CORE-004"] == "passed"
    server_cases = {path.stem for path in (failed_bundle.out.parent / "testcases" / "server").glob("*.yaml")}
    assert properties["LAB-001"] == "passed" and set(properties) == server_cases | {"LAB-001"}


def test_manifest_covers_junit_and_every_file_and_sha256sum_agrees(failed_bundle: Bundle) -> None:
    listed = [line.split("  ", 1)[1] for line in (failed_bundle.out / MANIFEST).read_text().splitlines()]
    on_disk = sorted(p.relative_to(failed_bundle.out).as_posix() for p in failed_bundle.out.rglob("*")
                     if p.is_file() and p.name != MANIFEST)
    assert listed == on_disk and "junit.xml" in listed and "pki/ca.pem" in listed
    # pytest writes junit.xml at its own session finish; the manifest must have been written after it.
    checked = subprocess.run(["sha256sum", "--check", "--quiet", MANIFEST], cwd=failed_bundle.out,
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = run_cli("verify", str(failed_bundle.out))
    assert done.returncode == 0 and f"files match {failed_bundle.out / MANIFEST}" in done.stdout


@pytest.mark.parametrize("name", BUNDLE_FILES)
@pytest.mark.parametrize("tamper", ["change", "delete"])
def test_verify_names_a_changed_or_deleted_file(failed_bundle: Bundle, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                name: str, tamper: str) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(failed_bundle.out, copy)
    target = copy / name
    if tamper == "change":
        target.write_bytes(target.read_bytes().replace(b"CORE-005", b"CORE-006", 1) + b" ")
    else:
        target.unlink()
    assert main(["verify", str(copy)]) == 1
    output = capsys.readouterr().out
    expected = "changed: expected sha256" if tamper == "change" else "listed in the manifest but missing"
    assert f"{target}: {expected}" in output
    assert output.count(str(copy)) == 2  # the one file, then the summary line naming the manifest


def test_verify_names_an_added_file_and_a_missing_manifest(failed_bundle: Bundle, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(failed_bundle.out, copy)
    (copy / "exchanges" / "CORE-005" / "9-1.http").write_text("GET /forged HTTP/1.1\n")
    done = run_cli("verify", str(copy))
    assert done.returncode == 1
    assert f"{copy / 'exchanges/CORE-005/9-1.http'}: not listed in the manifest" in done.stdout
    (copy / MANIFEST).unlink()
    done = run_cli("verify", str(copy))
    assert done.returncode == 1 and f"expected a manifest at {copy / MANIFEST}, saw none" in done.stdout


def test_report_subcommand_renders_the_same_page_from_results_alone(failed_bundle: Bundle, tmp_path: Path) -> None:
    alone = tmp_path / "results.json"
    shutil.copy(failed_bundle.out / "results.json", alone)
    done = run_cli("report", str(alone), "-o", str(tmp_path / "again.html"), "--csv", str(tmp_path / "s.csv"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again.html").read_text() == (failed_bundle.out / "report.html").read_text()
    assert (tmp_path / "s.csv").read_text() == (failed_bundle.out / "csip-summary.csv").read_text()


def test_report_subcommand_refuses_a_broken_results_file(failed_bundle: Bundle, tmp_path: Path) -> None:
    broken = document(failed_bundle)
    broken["tests"][1]["steps"][0]["verdict"] = "fine"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(broken))
    done = run_cli("report", str(path))
    assert done.returncode == 2
    assert f"{path}: does not match the results schema" in done.stderr and "tests/1/steps/0/verdict" in done.stderr
    path.write_text("{not json")
    done = run_cli("report", str(path))
    assert done.returncode == 2 and f"{path}: expected JSON" in done.stderr
    assert load_results(failed_bundle.out / "results.json")["format_version"] == 3


class _Elements(HTMLParser):
    """Every element's tag and attributes, as a browser's parser sees them (text is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def test_report_is_self_contained(failed_bundle: Bundle) -> None:
    html = (failed_bundle.out / "report.html").read_text()
    parser = _Elements()
    parser.feed(html)
    tags = {tag for tag, _ in parser.found}
    assert not tags & {"script", "link", "iframe", "img", "object", "embed", "image", "use", "base"}, tags
    assert not [attrs for _, attrs in parser.found if "src" in attrs or "srcset" in attrs or "xlink:href" in attrs]
    hrefs = [attrs["href"] or "" for tag, attrs in parser.found if "href" in attrs]
    # Links within the page, and to the raw evidence files beside it (followed only on a click).
    assert hrefs and all(h.startswith(("#", "exchanges/")) for h in hrefs), hrefs
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "url(" not in style and "@import" not in style
