"""`csip-harness run --role client` as a real subprocess: against the reference DER client (clean and with a
defect) and against a device that connects on its own (a scripted client told only what the command printed),
with the evidence bundle of a server-role run (junit.xml too: the command runs pytest); usage mistakes end
with a message and status 2."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

import harness.report
from harness.pki import CertPair, TestPki
from harness.sep.identity import certificate_der
from harness.sep.identity import lfdi as lfdi_of
from tests.scripted_client import ScriptedDer

CLI = [sys.executable, "-m", "harness.cli", "run", "--role", "client"]


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_reference_run_writes_the_bundle_with_a_timeline(tmp_path: Path) -> None:
    out = tmp_path / "clean"
    done = run("--reference", "--time-scale", "0.01", "-k", "BASIC-017", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    schema = json.loads((Path(harness.report.__file__).parent / "schema" / "results.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(results)) == []
    (test,) = results["tests"]
    assert (test["id"], test["verdict"], test["role"]) == ("BASIC-017", "passed", "client")
    assert results["run"]["time_scale"] == 0.01 and results["run"]["dut"]["role"] == "client"
    assert test["timeline"]["acts"][0]["verb"] == "add"
    html = (out / "report.html").read_text()
    assert '<svg class="timeline"' in html and "<script" not in html
    assert (out / "csip-summary.csv").is_file() and (out / "MANIFEST.sha256").is_file()
    assert not list(out.rglob("*.key"))
    # The command runs pytest (--csip-role client), so the bundle has pytest's junit.xml with the case's properties.
    (case,) = ElementTree.parse(out / "junit.xml").getroot().iter("testcase")
    assert {p.get("name"): p.get("value") for p in case.iter("property")} == {"csip_id": "BASIC-017",
                                                                            "verdict": "passed"}


@pytest.mark.long_run
def test_reference_run_with_a_defect_fails_at_its_step(tmp_path: Path) -> None:
    out = tmp_path / "defect"
    done = run("--reference", "--time-scale", "0.01", "-k", "BASIC-017", "--defect", "skips-response-2",
               "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    (test,) = json.loads((out / "results.json").read_text())["tests"]
    assert test["verdict"] == "failed" and test["reason"].startswith("step 4 'Response 2, started'")
    assert "✕" in (out / "report.html").read_text()


def test_a_real_device_is_told_where_to_connect_and_is_tested(tmp_path: Path) -> None:
    profile = tmp_path / "my-der.yaml"
    applied = tmp_path / "applied.json"
    # The device's vendor tool, as a command: it prints the control the device applies (what BASIC-017 observes).
    reader = {"command": {"argv": [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())",
                                   str(applied)]}}
    # Its restart (BASIC-017's setup): the device has just started, so there is nothing to do but say it is done.
    restart = {"command": {"argv": [sys.executable, "-c", "pass"]}}
    profile.write_text("name: my DER\nrole: client\ntime_scale: true\nidentity: {pin: 111115}\n"
                       f"actions:\n  active-control: {json.dumps(reader)}\n  power-cycle: {json.dumps(restart)}\n")
    process = subprocess.Popen([*CLI, "--profile", str(profile), "--time-scale", "0.01", "-k", "BASIC-017",
                                "--out", str(tmp_path / "device")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    told: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        for key, pattern in (("dcap", r"server address \(DeviceCapability\): (\S+)"),
                             ("ca", r"CA certificate the device must trust: +(\S+)"),
                             ("cert", r"certificate the device must present: +(\S+)"),
                             ("key", r"its private key .*: (\S+)")):
            found = re.search(pattern, line)
            if found:
                told[key] = found.group(1)
        if "waiting up to" in line:
            break
    assert set(told) == {"dcap", "ca", "cert", "key"}, told
    pki = TestPki(ca=Path(told["ca"]), server=CertPair(Path(told["ca"]), Path(told["key"])),
                  clients={"client": CertPair(Path(told["cert"]), Path(told["key"]))})
    stopped = threading.Event()

    def device() -> None:
        async def go() -> None:
            lfdi = lfdi_of(certificate_der(pki.clients["client"].cert))
            der = ScriptedDer(told["dcap"].removesuffix("/dcap"), pki, lfdi, scale=0.01, applied_file=applied)
            task = asyncio.create_task(der.run())
            while not stopped.is_set():
                await asyncio.sleep(0.1)
            task.cancel()
            await der.stop()
        asyncio.run(go())

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    try:
        rest, errors = process.communicate(timeout=240)
    finally:
        stopped.set()
        thread.join(10)
    assert process.returncode == 0, rest + errors
    (test,) = json.loads((tmp_path / "device" / "results.json").read_text())["tests"]
    assert test["verdict"] == "passed", test["reason"]


def test_usage_mistakes_say_what_was_expected(tmp_path: Path) -> None:
    done = run("--out", str(tmp_path / "a"))
    assert done.returncode == 2 and "expected --reference" in done.stderr
    done = run("--dut", "https://192.0.2.1", "--out", str(tmp_path / "b"))
    assert done.returncode == 2 and "there is no --dut" in done.stderr
    server_profile = tmp_path / "server.yaml"
    server_profile.write_text("role: server\n")
    done = run("--profile", str(server_profile), "--out", str(tmp_path / "c"))
    assert done.returncode == 2 and "expected a profile with role: client" in done.stderr
    assert "Traceback" not in done.stderr
