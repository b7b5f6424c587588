"""What a pytest user sees on the terminal: each case's id and title under -v; a failure's step, expected
against seen, the start of the response body and the path of its evidence file; and, while the DUT is slow to
answer, what the run is waiting for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.pki import TestPki
from harness.sep.tls import server_context

from .scripted_dut import NS, ScriptedDut, response

DCAP = f'<DeviceCapability xmlns="{NS}" href="/dcap" pollRate="900"><TimeLink href="/tm"/></DeviceCapability>'
CASE = """\
id: LAB-020
title: DeviceCapability from a slow DUT
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: /dcap}
    expect: {status: 200, schema: DeviceCapability}
"""


def test_verbose_shows_titles_and_a_failure_shows_step_body_and_evidence(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--reference", "--defect",
                           "time-wrong-quality", "-k", "CORE-001 or CORE-005", "--out", str(out), "--", "-v"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    # CORE-001 waits for nothing: a case that waits prints its progress inside pytest's -v line.
    assert "CORE-001.yaml::CORE-001 HTTP Request PASSED" in done.stdout
    assert "CORE-005.yaml::CORE-005 Basic Time FAILED" in done.stdout
    failure = done.stdout[done.stdout.index("CORE-005 'Basic Time': FAILED"):]
    lines = [line.strip() for line in failure.splitlines()]
    step = next(i for i, line in enumerate(lines) if line.startswith("step 2 "))
    assert lines[step + 1] == "resource.quality: expected 7, saw '3'"
    assert lines[step + 2].startswith("exchange: GET https://127.0.0.1:") and lines[step + 2].endswith("ms)")
    assert lines[step + 3].startswith('body (application/sep+xml, ') and f'<Time xmlns="{NS}"' in lines[step + 3]
    evidence = out / "exchanges" / "CORE-005" / "2-1.http"
    assert lines[step + 4] == f"evidence: {evidence}"
    document = json.loads((out / "results.json").read_text())
    [core005] = [test for test in document["tests"] if test["id"] == "CORE-005"]
    assert core005["steps"][1]["exchanges"][0]["evidence"] == "exchanges/CORE-005/2-1.http"
    assert "<quality>3</quality>" in evidence.read_text()


def _run_slow(pki: TestPki, dut: ScriptedDut, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "LAB-020.yaml").write_text(CASE)
    (tmp_path / "dut.yaml").write_text("role: server\n")
    client = pki.clients["client"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path / "LAB-020.yaml"),
         "--csip-dut", dut.base_url, "--csip-cert", str(client.cert), "--csip-key", str(client.key),
         "--csip-ca", str(pki.ca), "--csip-profile", str(tmp_path / "dut.yaml"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)


def test_a_dut_slow_to_answer_is_never_silent(pki: TestPki, tmp_path: Path) -> None:
    tls = server_context(pki.server.cert, pki.server.key, pki.ca)
    with ScriptedDut(tls, {"/dcap": response(DCAP)}, delays={"/dcap": 3.0}) as dut:
        done = _run_slow(pki, dut, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        waiting = f"LAB-020 step 1: waiting for the DUT: GET {dut.base_url}/dcap (2 s of 30 s)"
        assert waiting in done.stdout.splitlines()
        # Said while waiting, before the verdict: pytest's result line comes after it.
        assert done.stdout.index(waiting) < done.stdout.index("1 passed")
        # An xdist worker's terminal is the controller's: the worker says nothing of its own.
        quiet = _run_slow(pki, dut, tmp_path, "-n", "1")
        assert quiet.returncode == 0, quiet.stdout + quiet.stderr
        assert "waiting for the DUT" not in quiet.stdout + quiet.stderr
