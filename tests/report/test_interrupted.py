"""A DUT that dies mid-run, and a harness that is killed mid-run, still leave evidence a lab can use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.report.document import schema_errors

from .conftest import run_cli

TESTS = Path(__file__).resolve().parent.parent  # killer_plugin and dut_killing


def run_with_killer(args: list[str], kill_after: int, pid: str, port: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
           "CSIP_TEST_KILL_AFTER": str(kill_after), "CSIP_TEST_KILL_PID": pid, "CSIP_TEST_KILL_PORT": str(port)}
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", *args, "--", "-p", "killer_plugin"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def dut_args(server: ReferenceProcess, pki: TestPki, project_root: Path, out: Path) -> list[str]:
    client = pki.clients["client"]
    return ["--dut", server.base_url, "--http-url", server.http_url, "--cert", str(client.cert),
            "--key", str(client.key), "--ca", str(pki.ca), "--out", str(out),
            "--profile", str(project_root / "fixtures" / "profiles" / "reference-server.yaml"),
            *server.admin_options()]


def test_a_dut_that_dies_after_the_first_case_leaves_the_rest_in_error(pki: TestPki, project_root: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    with spawn_reference_server(pki).wait_ready() as server:
        done = run_with_killer(dut_args(server, pki, project_root, out), 1, str(server.process.pid),
                               server.https_port)
        assert server.process.poll() == -9  # the killer really killed it
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert schema_errors(results) == [] and results["run"]["complete"] is True
    verdicts = [(t["id"], t["verdict"]) for t in results["tests"]]
    cases = sorted(path.stem for path in (project_root / "testcases" / "server").glob("*.yaml"))
    assert verdicts == [(cases[0], "passed"), *[(case_id, "error") for case_id in cases[1:]]]
    # Each later case fails to reach the dead server: at its setup action (the admin interface died with
    # it) or at its first request.
    assert all(any(words in t["reason"] for words in ("connect failure", "protocol failure", "ConnectError"))
               for t in results["tests"][1:]), [t["reason"] for t in results["tests"]]
    html = (out / "report.html").read_text()
    assert f'<div class="card error"><span class="num">{len(cases) - 1}</span>error</div>' in html
    assert html.count('<span class="b error">error</span>') >= 8  # the tests table and each test's section
    assert run_cli("verify", str(out)).returncode == 0


def test_a_harness_killed_mid_run_keeps_results_current_and_reportable(reference_server: ReferenceProcess, pki: TestPki,
                                                                       project_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Killed during its second case: one that takes no time on the server's clock (the event cases wait minutes).
    cases = tmp_path / "testcases" / "server"
    cases.mkdir(parents=True)
    for case_id in ("BASIC-001", "CORE-001", "CORE-002"):
        shutil.copy(project_root / "testcases" / "server" / f"{case_id}.yaml", cases)
    done = run_with_killer([*dut_args(reference_server, pki, project_root, out), "--cases", str(cases)], 2, "self")
    assert done.returncode == -9
    results = json.loads((out / "results.json").read_text())
    assert schema_errors(results) == [] and results["run"]["complete"] is False
    assert [(t["id"], t["verdict"]) for t in results["tests"]] == [("BASIC-001", "passed"), ("CORE-001", "passed")]
    assert (out / "exchanges" / "CORE-001" / "1-1.http").is_file() and not (out / "report.html").exists()
    done = run_cli("report", str(out / "results.json"))
    assert done.returncode == 0, done.stderr
    html = (out / "report.html").read_text()
    assert "<strong>Run incomplete:</strong>" in html and '<span class="num">2</span>total' in html
