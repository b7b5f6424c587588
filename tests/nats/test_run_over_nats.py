"""`csip-harness run --reference --transport nats`: the server cases over native NATS and the InterSTORE tunnel,
in XML and CUPID's JSON, give the verdicts they give over HTTPS; HTTP/TLS cases are not applicable, with the
reason; the tunnel's InterSTORE behaviours are failed, naming what the procedure requires."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import harness.report

CLI = Path(sys.executable).with_name("csip-harness")
SCHEMA = Path(harness.report.__file__).with_name("schema") / "results.schema.json"


def run(out: Path, *options: str) -> dict[str, dict[str, Any]]:
    """Run the CLI against the reference server over NATS; the tests of results.json by id."""
    command = [str(CLI), "run", "--reference", "--transport", "nats", "--time-scale", "0.01", "--out", str(out),
               "-q", *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert (out / "results.json").is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, json.loads(SCHEMA.read_text()))
    assert results["run"]["transport"] == "nats"
    mapping = "interstore" if "interstore" in options else "native"
    assert results["run"]["nats"]["mapping"] == mapping and results["run"]["encoding"] == (
        "json" if "json" in options else "xml")
    assert ("envelope" if mapping == "interstore" else "request subject") in results["run"]["nats"]["identity"]
    return {test["id"]: test for test in results["tests"]}


def failing_step(test: dict[str, Any]) -> tuple[int, str]:
    step = next(s for s in test["steps"] if s["verdict"] == "failed")
    return step["index"], step["message"]


@pytest.mark.parametrize("options", [[], ["--nats-mapping", "interstore"], ["--encoding", "json"],
                                     ["--nats-mapping", "interstore", "--encoding", "json"]],
                         ids=["native-xml", "tunnel-xml", "native-json", "tunnel-json"])
def test_server_cases_give_the_https_verdicts(tmp_path: Path, options: list[str]) -> None:
    tests = run(tmp_path / "clean", "-k", "CORE-004 or CORE-005 or CORE-001 or COMM-003", *options)
    assert {k: t["verdict"] for k, t in tests.items()} == {
        "CORE-004": "passed", "CORE-005": "passed", "CORE-001": "not_applicable", "COMM-003": "not_applicable"}
    assert "not applicable over NATS: it tests the TLS 1.2 handshake" in tests["COMM-003"]["reason"]
    flawed = run(tmp_path / "flawed", "-k", "CORE-004 or CORE-005", "--defect", "list-ignores-limit",
                 "--defect", "time-wrong-quality", *options)
    # The same steps and messages as the proofs over HTTPS (tests/proofs/first_cases.py).
    assert failing_step(flawed["CORE-004"])[0] == 6 and "resource.results: expected 1, saw '3'" in \
        failing_step(flawed["CORE-004"])[1]
    assert failing_step(flawed["CORE-005"])[0] == 2 and "resource.quality: expected 7, saw '3'" in \
        failing_step(flawed["CORE-005"])[1]
    if "json" in options:
        exchange = next((tmp_path / "clean" / "exchanges" / "CORE-005").glob("*.http")).read_text()
        assert "Accept: application/sep+json" in exchange and "Content-Type: application/sep+json" in exchange


def test_the_tunnels_interstore_behaviours_are_failed(tmp_path: Path) -> None:
    tests = run(tmp_path / "tunnel", "--nats-mapping", "interstore", "-k", "CORE-014",
                "--defect", "tunnel-success-200")
    index, message = failing_step(tests["CORE-014"])
    assert tests["CORE-014"]["verdict"] == "failed" and "status: expected 204, saw 200" in message
    natively = run(tmp_path / "native", "-k", "CORE-014", "--defect", "tunnel-success-200")
    assert natively["CORE-014"]["verdict"] == "passed"  # a defect of the tunnel front end only


@pytest.mark.parametrize(("defect", "fragment"), [("nats-flood", "answers on _INBOX."),
                                                  ("nats-malformed-reply", "malformed answer on _INBOX.")])
def test_a_dut_misbehaving_on_the_wire_gets_errors_naming_the_subject_and_the_run_goes_on(
        tmp_path: Path, defect: str, fragment: str) -> None:
    tests = run(tmp_path / defect, "-k", "CORE-004 or CORE-005", "--defect", defect)
    assert set(tests) == {"CORE-004", "CORE-005"}
    for test in tests.values():
        assert test["verdict"] == "error" and fragment in test["reason"], test["reason"]
