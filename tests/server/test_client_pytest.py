"""The client role under plain pytest (`--csip-role client`), as real subprocesses on 127.0.0.1: one item per
client case whose outcome is the case's verdict, junit.xml with the csip_id and verdict properties of a
server-role run, and the evidence bundle `csip-harness run --role client` writes (which runs this same path).
The role comes from the option, the ini key or the profile; pytest-xdist's -n runs it in one process, said so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle.bundles import assert_consistent_bundle

ROOT = Path(__file__).resolve().parent.parent.parent
REFERENCE_CLIENT = ROOT / "fixtures" / "profiles" / "reference-der-client.yaml"


def cases(tmp_path: Path, role: str, *ids: str) -> Path:
    """A folder testcases/<role> under tmp_path holding copies of the bundled cases ids."""
    folder = tmp_path / "testcases" / role
    folder.mkdir(parents=True, exist_ok=True)
    for case_id in ids:
        shutil.copy(ROOT / "testcases" / role / f"{case_id}.yaml", folder)
    return folder


def pytest_run(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Plain `pytest ARGS` in tmp_path, with a private TMPDIR (tmp_path/tmp) for the run's keys."""
    private = tmp_path / "tmp"
    private.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(private)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], capture_output=True,
                          text=True, cwd=tmp_path, timeout=timeout, check=False, env=env, start_new_session=True)


def junit_case(path: Path, name: str) -> tuple[dict[str, str], ET.Element]:
    """The properties and the element of the testcase name in a junit.xml."""
    (case,) = [case for case in ET.parse(path).getroot().iter("testcase") if case.get("name") == name]
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}, case


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())


def test_a_client_case_passes_against_the_reference_client(tmp_path: Path) -> None:
    folder = cases(tmp_path, "client", "CORE-003")
    out = tmp_path / "out"
    done = pytest_run(tmp_path, str(folder), "--csip-role", "client", "--csip-reference", "--csip-time-scale", "0.01",
                      "--csip-out", str(out), f"--junitxml={out / 'junit.xml'}")
    assert done.returncode == 0, done.stdout + done.stderr
    properties, element = junit_case(out / "junit.xml", "CORE-003")
    assert properties == {"csip_id": "CORE-003", "verdict": "passed"} and list(element) == element.findall("properties")
    # results.json (schema-valid, complete), the CSV, the report and junit.xml agree; `verify` is OK.
    assert assert_consistent_bundle(out) == {"CORE-003": "passed"}
    document = results(out)
    run, (test,) = document["run"], document["tests"]
    assert (run["dut"]["role"], run["dut"]["name"], run["time_scale"]) == ("client", "reference DER client", 0.01)
    assert run["dut"]["test_server"].startswith("https://127.0.0.1:") and len(run["client"]["lfdi"]) == 40
    assert (test["role"], test["nodeid"]) == ("client", "testcases/client/CORE-003.yaml::CORE-003")
    assert test["timeline"]["requests"] and test["timeline"]["awaits"]
    assert '<svg class="timeline"' in (out / "report.html").read_text()
    # The run's certificates are in the bundle; its keys were in a private folder, gone with the run.
    assert {"ca.pem", "server.pem", "client.pem"} <= {path.name for path in (out / "pki").iterdir()}
    assert not list(out.rglob("*.key")) and list((tmp_path / "tmp").iterdir()) == []


def test_a_defect_fails_the_case_and_workers_are_not_started(tmp_path: Path) -> None:
    folder = cases(tmp_path, "client", "CORE-003")
    # The role, the reference client, its defect and the time scale as ini keys this time.
    (tmp_path / "pytest.ini").write_text("[pytest]\ncsip_role = client\ncsip_reference = true\n"
                                         "csip_defects = ignores-pollrate\ncsip_time_scale = 0.01\n")
    out = tmp_path / "out"
    done = pytest_run(tmp_path, str(folder), "-n", "2", "--csip-out", str(out), f"--junitxml={out / 'junit.xml'}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "csip-harness: client role: -n 2 ignored" in done.stdout and "[gw0]" not in done.stdout
    assert "1 failed" in done.stdout.splitlines()[-1]
    properties, element = junit_case(out / "junit.xml", "CORE-003")
    assert properties == {"csip_id": "CORE-003", "verdict": "failed"}
    failure = element.find("failure")
    assert failure is not None and "every 300 s" in failure.get("message", "")
    assert assert_consistent_bundle(out) == {"CORE-003": "failed"}
    (test,) = results(out)["tests"]
    assert test["reason"].startswith("step 14 ") and "every 300 s" in test["reason"]


def test_the_profile_gives_the_role_and_a_server_case_is_not_applicable(tmp_path: Path) -> None:
    folder = cases(tmp_path, "server", "CORE-001")
    out = tmp_path / "out"
    done = pytest_run(tmp_path, str(folder), "--csip-profile", str(REFERENCE_CLIENT), "--csip-reference", "-rs",
                      "--csip-out", str(out), f"--junitxml={out / 'junit.xml'}", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    reason = "not applicable: case is for server DUTs; the DUT profile declares role client"
    assert reason in done.stdout
    properties, element = junit_case(out / "junit.xml", "CORE-001")
    skipped = element.find("skipped")
    assert properties["verdict"] == "not_applicable" and skipped is not None and reason in skipped.get("message", "")
    document = results(out)
    assert [t["verdict"] for t in document["tests"]] == ["not_applicable"]
    assert document["run"]["dut"]["role"] == "client"
    # No client case: neither the test server nor the reference client was started for it.
    assert document["run"]["dut"]["test_server"] is None and list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--csip-role", "client"], "--csip-role client: expected --csip-reference (the bundled reference DER client) "
                                "or --csip-profile DEVICE.yaml"),
    (["--csip-role", "sideways", "--csip-reference"], "--csip-role: expected server or client, saw 'sideways'"),
    (["--csip-role", "client", "--csip-dut", "https://192.0.2.1"], "so there is no --csip-dut"),
    (["--csip-role", "client", "--csip-reference", "--csip-defect", "nope"],
     "--csip-defect nope: expected a defect of the reference DER client"),
    (["--csip-role", "client", "--csip-profile", "server.yaml"],
     "expected a profile with role: client, saw role server in server.yaml"),
    (["--csip-profile", "der.yaml", "--csip-time-scale", "0.01"],
     "--csip-time-scale 0.01: expected a DUT whose profile says time_scale: true"),
    (["--csip-profile", "der.yaml", "--csip-defect", "wrong-lfdi"],
     "--csip-defect wrong-lfdi: expected with --csip-reference (the defects are the reference DER client's)"),
])
def test_usage_mistakes_stop_the_run_before_it_starts(tmp_path: Path, args: list[str], expected: str) -> None:
    folder = cases(tmp_path, "client", "CORE-003")
    (tmp_path / "server.yaml").write_text("role: server\n")
    (tmp_path / "der.yaml").write_text("role: client\n")
    done = pytest_run(tmp_path, str(folder), *args, timeout=60)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "csip-results").exists() and list((tmp_path / "tmp").iterdir()) == []


def test_a_device_that_never_connects_leaves_each_client_case_in_error(tmp_path: Path) -> None:
    folder = cases(tmp_path, "client", "CORE-003", "BASIC-017")
    profile = tmp_path / "my-der.yaml"
    profile.write_text("name: my DER\nrole: client\nidentity: {pin: 111115}\ntimeouts: {first_request: 1}\n")
    out = tmp_path / "out"
    done = pytest_run(tmp_path, str(folder), "--csip-profile", str(profile), "--csip-out", str(out),
                      f"--junitxml={out / 'junit.xml'}", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    # Told where to connect, as `csip-harness run --role client` tells it, before the cases run.
    told = done.stdout.index("csip-harness: the test server is listening; configure the device under test:")
    for line in ("server address (DeviceCapability): https://127.0.0.1:", "CA certificate the device must trust:",
                 "certificate the device must present:", "its private key", "waiting up to 1 s"):
        assert done.stdout.index(line) > told, line
    assert "2 error" in done.stdout.splitlines()[-1]
    document = results(out)
    assert [t["verdict"] for t in document["tests"]] == ["error", "error"]
    for test in document["tests"]:
        assert "expected the device (LFDI " in test["reason"] and "within 1 s, saw no request from it" in test["reason"]
        properties, _ = junit_case(out / "junit.xml", test["id"])
        assert properties == {"csip_id": test["id"], "verdict": "error"}
    # The device's certificate made for it is in the bundle; its key (in the private folder) is gone.
    assert (out / "pki" / "ca.pem").is_file() and list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("when", ["keys made", "cases running"])
def test_a_terminated_client_run_stops_the_reference_client_and_removes_its_keys(tmp_path: Path, when: str) -> None:
    folder = cases(tmp_path, "client", "CORE-003", "BASIC-017")
    private = tmp_path / "tmp"
    private.mkdir()
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(folder), "--csip-role", "client",
         "--csip-reference", "--csip-time-scale", "0.01", "--csip-out", str(out)], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(private)},
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        keys: list[Path] = []
        while time.monotonic() < deadline and not (keys and (when == "keys made" or (out / "results.json").exists())):
            keys = [d for d in private.glob("csip-client-keys-*") if (d / "client.key").is_file()]
            time.sleep(0.01)
        assert keys, f"expected the run's private key directory under TMPDIR once {when}, saw none within 60 s"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # The keys, and the reference DER client's work directory (removed when it is stopped), are gone.
    assert list(private.iterdir()) == []


def test_the_command_and_plain_pytest_give_the_same_results(tmp_path: Path) -> None:
    folder = cases(tmp_path, "client", "BASIC-017")
    by_pytest, by_command = tmp_path / "pytest", tmp_path / "command"
    done = pytest_run(tmp_path, str(folder), "--csip-role", "client", "--csip-reference", "--csip-time-scale", "0.01",
                      "--csip-out", str(by_pytest), f"--junitxml={by_pytest / 'junit.xml'}")
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--role", "client", "--reference",
                           "--time-scale", "0.01", "--cases", str(folder), "--out", str(by_command)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    def shape(out: Path) -> dict[str, Any]:
        # What does not depend on when the run was, or on which port the test server got.
        document = results(out)
        dut = {k: v for k, v in document["run"]["dut"].items() if k != "test_server"}
        tests = [(t["id"], t["role"], t["verdict"], t["nodeid"], [(s["index"], s["name"], s["verdict"])
                                                                  for s in t["steps"]]) for t in document["tests"]]
        names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        return {"dut": dut, "summary": document["summary"], "tests": tests, "files": names}

    assert shape(by_command) == shape(by_pytest)
    assert assert_consistent_bundle(by_command) == {"BASIC-017": "passed"}
