"""Selecting cases as pytest users do (-k on id, title and function sets; -m on function-set and role markers,
registered for --strict-markers), and cases kept in a folder of any name: run, collected by plain pytest, checked
with `csip-harness cases`, and dry-run against a profile."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess

LAB_CASE = """\
id: LAB-010
title: Acme gateway banner
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
function_sets: [Acme Gateway, DeviceCapability]
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200, schema: DeviceCapability}
"""

PROFILE = "name: lab DUT\nrole: server\ncapabilities: [time]\nactions: {configure-time: {builtin: }}\n"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=180, check=False)


# A fixed set of bundled cases, so the expectations below stay true as the catalogue grows.
SELECTION = ("BASIC-001", "CORE-001", "CORE-002", "CORE-004", "CORE-005")


def selection(tmp_path: Path) -> str:
    folder = tmp_path / "selection"
    folder.mkdir()
    for case_id in SELECTION:
        shutil.copy(project_dir("testcases") / "server" / f"{case_id}.yaml", folder)
    return str(folder)


def ran(out: Path) -> dict[str, str]:
    return {test["id"]: test["verdict"] for test in json.loads((out / "results.json").read_text())["tests"]}


@pytest.mark.parametrize(("keyword", "expected"), [
    ("Time", {"CORE-001", "CORE-002", "CORE-005"}),  # the title "Basic Time" and the Time function set
    ("HTTP and Response", {"CORE-002"}),  # the title "HTTP Response" alone
    ("Mirror", {"CORE-002"}),  # the function set "Metering Mirror" alone
    ("CORE-005", {"CORE-005"}),  # the id
])
def test_k_matches_id_title_and_function_sets(keyword: str, expected: set[str], tmp_path: Path) -> None:
    done = cli("run", "--reference", "--cases", selection(tmp_path), "--out", str(tmp_path / "out"), "-k", keyword)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(ran(tmp_path / "out")) == expected


def test_m_selects_by_function_set_and_role_with_strict_markers(tmp_path: Path) -> None:
    # CORE-005's procedure is for clients, aggregators and servers (catalogue); CORE-001 and CORE-002 are
    # servers' only, and cover Time too.
    done = cli("run", "--reference", "--cases", selection(tmp_path), "--out", str(tmp_path / "out"), "--",
               "-m", "time and not aggregator", "--strict-markers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran(tmp_path / "out") == {"CORE-001": "passed", "CORE-002": "passed"}
    assert "3 deselected" in done.stdout


def test_markers_are_registered_when_pytest_starts() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--markers"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("time", "end_device", "metering_mirror", "function_set_assignments", "der", "client",
                 "aggregator", "server"):
        assert f"@pytest.mark.{name}: " in done.stdout


def test_a_lab_folder_of_any_name_runs_with_its_own_function_sets_as_markers(tmp_path: Path,
                                                                             project_root: Path) -> None:
    cases = tmp_path / "acme-procedures"
    cases.mkdir()
    shutil.copy(project_root / "testcases" / "server" / "CORE-005.yaml", cases)
    (cases / "LAB-010.yml").write_text(LAB_CASE)
    done = cli("run", "--reference", "--cases", str(cases), "--out", str(tmp_path / "out"), "--",
               "-m", "acme_gateway", "--strict-markers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran(tmp_path / "out") == {"LAB-010": "passed"}


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=180, check=False)


def test_plain_pytest_on_a_folder_of_any_name_collects_its_cases_and_not_its_other_yaml(
    reference_server: ReferenceProcess, pki: TestPki, project_root: Path, tmp_path: Path
) -> None:
    cases = tmp_path / "my cases"
    cases.mkdir()
    shutil.copy(project_root / "testcases" / "server" / "CORE-005.yaml", cases)
    (cases / "dut.yaml").write_text(PROFILE)  # a profile beside the cases: not a case, not collected
    client = pki.clients["client"]
    dut = ["--csip-dut", reference_server.base_url, "--csip-cert", str(client.cert), "--csip-key", str(client.key),
           "--csip-ca", str(pki.ca), "--csip-profile", str(cases / "dut.yaml"), "--csip-out", str(tmp_path / "out"),
           *reference_server.admin_options("--csip-var")]
    done = _pytest(str(cases), *dut, "-v", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran(tmp_path / "out") == {"CORE-005": "passed"}
    assert "1 passed" in done.stdout

    # Named with --csip-cases, every YAML file of the folder is a case: one that is not loads as an error.
    done = _pytest(str(cases), "--csip-cases", str(cases), *dut, "--csip-replace", cwd=tmp_path)
    assert done.returncode == 1
    assert ran(tmp_path / "out") == {"CORE-005": "passed", "dut": "error"}


def test_our_own_yaml_is_not_collected(project_root: Path) -> None:
    done = _pytest("--collect-only", "-q", "fixtures", "harness", cwd=project_root)
    assert done.returncode == 5, done.stdout + done.stderr  # pytest's "no tests collected"
    assert "no tests collected" in done.stdout


def test_cases_checks_a_lab_folder_and_dry_runs_it_against_a_profile(tmp_path: Path, project_root: Path) -> None:
    cases = tmp_path / "lab"
    cases.mkdir()
    for name in ("CORE-001", "CORE-005"):
        shutil.copy(project_root / "testcases" / "server" / f"{name}.yaml", cases)
    (cases / "LAB-010.yaml").write_text(LAB_CASE)
    (tmp_path / "dut.yaml").write_text(PROFILE)
    done = cli("cases", "--cases", str(cases), "--profile", str(tmp_path / "dut.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    at = {line.split()[0]: i for i, line in enumerate(lines) if line[:1].strip()}
    assert lines[at["CORE-005"] + 1].strip() == "would run"
    assert "action 'configure-time' through its builtin mapping" in lines[at["CORE-005"] + 2]
    assert "step 3 would be not applicable: the DUT profile does not declare: time-synchronised" in done.stdout
    assert lines[at["CORE-001"] + 1].strip().startswith("not applicable: the DUT profile maps no way to carry out")
    assert lines[at["LAB-010"] + 1].strip() == "would run"
    assert lines[-1] == "3 case(s) loaded, 0 could not be loaded; against lab DUT: 2 would run, 1 not applicable"

    (cases / "BROKEN.yaml").write_text(LAB_CASE.replace("steps:", "stepz:"))
    done = cli("cases", "--cases", str(cases))
    assert done.returncode == 1
    assert f"ERROR {cases / 'BROKEN.yaml'}:" in done.stdout
    assert done.stdout.splitlines()[-1] == "3 case(s) loaded, 1 could not be loaded"
