"""One real `csip-harness run` shared by the report tests: the bundled server cases plus one that reads
DeviceInformation, against the reference server with one defect, so the bundle holds passes and a failure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Reads the DUT's DeviceInformation, so the run learns the DUT's make, model and firmware.
DEVICE_INFORMATION_CASE = """\
id: LAB-001
title: Read DeviceInformation
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
function_sets: [DeviceInformation]
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200, schema: DeviceCapability}
    save: {edev: EndDeviceListLink.href}
  - name: GET the EndDeviceList
    request: {method: GET, path: "${edev}"}
    expect: {status: 200, schema: EndDeviceList}
    save: {di: "EndDevice[0].DeviceInformationLink.href"}
  - name: GET DeviceInformation
    request: {method: GET, path: "${di}"}
    expect: {status: 200, schema: DeviceInformation, resource: {mfModel: present}}
"""


@dataclass(frozen=True)
class Bundle:
    """A finished run's output directory and how the CLI ended."""

    out: Path
    exit_code: int
    stdout: str


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`csip-harness ARGS` in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="session")
def failed_bundle(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Bundle:
    """A run with CORE-005 failing (reference defect time-wrong-quality) and LAB-001 reading DeviceInformation."""
    base = tmp_path_factory.mktemp("bundle")
    cases = base / "testcases" / "server"
    # The report's fixtures: the cases that take no time on the server's clock (the event cases wait minutes).
    cases.mkdir(parents=True)
    for case_id in ("BASIC-001", "CORE-001", "CORE-002", "CORE-004", "CORE-005"):
        shutil.copy(project_root / "testcases" / "server" / f"{case_id}.yaml", cases)
    (cases / "LAB-001.yaml").write_text(DEVICE_INFORMATION_CASE)
    out = base / "out"
    done = run_cli("run", "--reference", "--defect", "time-wrong-quality", "--cases", str(cases), "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    return Bundle(out, done.returncode, done.stdout)
