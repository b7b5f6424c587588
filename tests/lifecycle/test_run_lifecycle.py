"""A run's lifecycle: evidence starts with the first case, is never overwritten unless asked, says where it is."""

from __future__ import annotations

import os
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.report.folder import new_default_folder

from .bundles import CASES, ROOT, SERVER_CASES, SERVER_IDS, assert_consistent_bundle, cli, pytest_run, results, snapshot

STAMP = re.compile(r"\d{8}-\d{6}")
TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture
def private_tmp(tmp_path: Path) -> dict[str, str]:
    """TMPDIR for the run: what the harness puts there (the run's private keys) must be gone afterwards."""
    folder = tmp_path / "private-tmp"
    folder.mkdir()
    return {"TMPDIR": str(folder)}


def test_collect_only_and_a_second_run_leave_a_finished_bundle_untouched_until_replace_is_asked(
        tmp_path: Path, private_tmp: dict[str, str]) -> None:
    out = tmp_path / "bundle"
    done = cli("run", *CASES, "--reference", "-k", "CORE-005", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    started = results(out)["run"]["started"]
    before = snapshot(out)

    # Listing the cases writes nothing and starts nothing (no reference DUT, no keys).
    listed = pytest_run(str(SERVER_CASES), "--collect-only", "-q", "--csip-out", str(out), "--csip-reference",
                        cwd=tmp_path, env=private_tmp)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "5 tests collected" in listed.stdout and "csip-harness: evidence" not in listed.stdout
    assert snapshot(out) == before and list(Path(private_tmp["TMPDIR"]).iterdir()) == []
    assert cli("verify", str(out)).returncode == 0

    # A run into the same folder is refused before anything runs, naming the folder, the run and the ways out.
    refused = pytest_run(str(SERVER_CASES), "--csip-out", str(out), "--csip-reference", cwd=tmp_path, env=private_tmp)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout + refused.stderr
    assert f"{out} already holds the evidence of the run started {started}" in refused.stderr
    assert "another folder (--csip-out DIR)" in refused.stderr and "--csip-replace" in refused.stderr
    assert "test session starts" not in refused.stdout
    refused = cli("run", *CASES, "--reference", "--out", str(out), env=private_tmp)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"error: {out} already holds the evidence of the run started {started}")
    assert "(--out DIR)" in refused.stderr and "add --replace" in refused.stderr and refused.stdout == ""
    assert snapshot(out) == before and list(Path(private_tmp["TMPDIR"]).iterdir()) == []

    # Asked to, a run replaces it whole: nothing of the earlier run is left to be taken for this one's.
    replaced = cli("run", *CASES, "--reference", "-k", "CORE-001", "--out", str(out), "--replace", env=private_tmp)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert assert_consistent_bundle(out) == {"CORE-001": "passed"}
    assert [path.name for path in (out / "exchanges").iterdir()] == ["CORE-001"]


def test_plain_pytest_with_the_reference_dut_and_no_out_writes_a_new_folder_and_names_it(
        tmp_path: Path, private_tmp: dict[str, str]) -> None:
    done = pytest_run(str(SERVER_CASES), "--csip-reference", "--csip-defect", "time-wrong-quality",
                      "-p", "no:cacheprovider", cwd=tmp_path, env=private_tmp)
    assert done.returncode == 1, done.stdout + done.stderr
    [folder] = (tmp_path / "csip-results").iterdir()
    assert STAMP.fullmatch(folder.name)
    # The summary ends with the line naming the evidence, just above pytest's own count.
    lines = done.stdout.splitlines()
    assert lines[-2] == f"csip-harness: evidence of this run in {folder} (report.html, results.json)"
    assert re.fullmatch(r"=+ 1 failed, 4 passed in .*", lines[-1])
    assert assert_consistent_bundle(folder, junit=False) == {**dict.fromkeys(SERVER_IDS, "passed"),
                                                             "CORE-005": "failed"}
    # The run's PKI: certificates in the bundle, keys in a private directory gone with the run.
    names = {path.name for path in (folder / "pki").iterdir()}
    assert {"ca.pem", "client.pem", "other.pem", "aggregator.pem", "server.pem"} <= names
    assert all(name.endswith(".pem") for name in names)
    assert not list(folder.rglob("*.key")) and list(Path(private_tmp["TMPDIR"]).iterdir()) == []
    assert results(folder)["run"]["dut"]["profile"].endswith("reference-server.yaml")


def test_an_error_verdict_shows_as_an_error_not_a_failure(pki: TestPki, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: the DUT is unreachable
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    client = pki.clients["client"]
    done = cli("run", *CASES, "--dut", f"https://127.0.0.1:{closed}", "--cert", str(client.cert),
               "--key", str(client.key), "--ca", str(pki.ca), "-k", "CORE-005", "--", "-v", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"CORE-005\.yaml::CORE-005 Basic Time ERROR", done.stdout), done.stdout
    assert re.fullmatch(r"=+ \d+ deselected, 1 error in .*", done.stdout.splitlines()[-1])
    assert "ERROR at call of CORE-005: Basic Time" in done.stdout and "Traceback" not in done.stdout
    # Without --out: a new folder under ./csip-results, named at the end of the output.
    [folder] = (tmp_path / "csip-results").iterdir()
    assert f"csip-harness: evidence of this run in {folder} " in done.stdout
    assert assert_consistent_bundle(folder) == {"CORE-005": "error"}
    # junit.xml: pytest writes the call's error as a <failure>; the verdict property says it is an error.
    [case] = ET.parse(folder / "junit.xml").getroot().iter("testcase")
    assert case.find("failure") is not None
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["verdict"] == "error"


def test_default_folders_are_claimed_atomically_and_suffixed(tmp_path: Path) -> None:
    moment = 1_800_000_000.0
    first, second, third = (new_default_folder(tmp_path / "csip-results", moment) for _ in range(3))
    assert [first.name, second.name, third.name] == ["20270115-080000", "20270115-080000-2", "20270115-080000-3"]
    assert all(folder.is_dir() for folder in (first, second, third))



def test_a_profile_naming_the_dut_address_is_enough_for_csip_harness_run(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    client = pki.clients["client"]
    profile = tmp_path / "dut.yaml"
    profile.write_text((ROOT / "fixtures" / "profiles" / "reference-server.yaml").read_text().replace(
        "identity:\n  pin: 111115\n",
        f"base_url: {reference_server.base_url}\n"
        f"identity: {{pin: 111115, cert: {client.cert}, key: {client.key}, ca: {pki.ca}}}\n"))
    out = tmp_path / "out"
    done = cli("run", *CASES, "--profile", str(profile), "-k", "CORE-005", "--out", str(out),
               *reference_server.admin_options())
    assert done.returncode == 0, done.stdout + done.stderr
    assert results(out)["run"]["dut"]["url"] == reference_server.base_url
    assert assert_consistent_bundle(out) == {"CORE-005": "passed"}


def test_an_interrupted_run_is_sealed_as_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = cli("run", *CASES, "--reference", "-k", "CORE-004 or CORE-005", "--out", str(out), "--",
               "-p", "interrupt_plugin", env=env)
    assert done.returncode == 1 and "KeyboardInterrupt" in done.stdout, done.stdout + done.stderr
    document = results(out)
    assert document["run"]["complete"] is False and [t["id"] for t in document["tests"]] == ["CORE-004"]
    assert "<strong>Run incomplete:</strong>" in (out / "report.html").read_text()
    assert cli("verify", str(out)).returncode == 0


def test_a_finished_case_leaves_its_evidence_to_the_bundle_not_to_pytest(tmp_path: Path) -> None:
    # pytest keeps every item and report until the session ends; once recorded, neither holds the test's evidence
    # (a whole catalogue's records held there were most of the run's memory), while the bundle has all of it.
    out = tmp_path / "out"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = cli("run", *CASES, "--reference", "-k", "CORE-004 or CORE-005", "--out", str(out), "--",
               "-p", "kept_reports_plugin", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept-records: report keys ['id,nodeid,reason,verdict']; items holding a record 0" in done.stdout
    assert "2 passed" in done.stdout
    tests = {test["id"]: test for test in results(out)["tests"]}
    assert sorted(tests) == ["CORE-004", "CORE-005"]
    assert all(step["exchanges"] and step["exchanges"][0]["response_body"] for step in tests["CORE-005"]["steps"]
               if step["exchanges"])
    assert assert_consistent_bundle(out) == {"CORE-004": "passed", "CORE-005": "passed"}
