"""Helpers for the run-lifecycle tests: the CLI and pytest in subprocesses, and a bundle's consistency."""

from __future__ import annotations

import atexit
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report.document import schema_errors

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER_IDS = {"BASIC-001", "CORE-001", "CORE-002", "CORE-004", "CORE-005"}
# The lifecycle is shown on these five bundled cases, copied to a folder of their own so that the tests hold
# as the catalogue grows (and no case waits on the DUT's clock); it is removed when the tests end.
_COPY = Path(tempfile.mkdtemp(prefix="csip-lifecycle-cases-"))
atexit.register(shutil.rmtree, _COPY, ignore_errors=True)
SERVER_CASES = _COPY / "testcases" / "server"
SERVER_CASES.mkdir(parents=True)
for _case in sorted(SERVER_IDS):
    shutil.copy(ROOT / "testcases" / "server" / f"{_case}.yaml", SERVER_CASES)
CASES = ("--cases", str(SERVER_CASES))  # for `csip-harness run`


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`csip-harness ARGS` as a user runs it (no controlling terminal: never an operator prompt)."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})}, start_new_session=True)


def pytest_run(*args: str, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Plain `pytest ARGS` in cwd, as a pytest user runs it (the plugin found through its entry point)."""
    return subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})}, start_new_session=True)


def results(out: Path) -> dict[str, Any]:
    """The parsed results.json of a bundle."""
    return json.loads((out / "results.json").read_text())


def verdicts(out: Path) -> dict[str, str]:
    """Case id -> verdict, from results.json."""
    return {test["id"]: test["verdict"] for test in results(out)["tests"]}


def assert_consistent_bundle(out: Path, junit: bool = True) -> dict[str, str]:
    """Every file of a finished bundle tells the same story as results.json, and `verify` is OK.

    results.json is complete and schema-valid; csip-summary.csv, report.html and junit.xml (when the run
    wrote one: junit) give each case the verdict results.json gives it; every exchange file exists.
    Returns case id -> verdict.
    """
    document = results(out)
    assert schema_errors(document) == [] and document["run"]["complete"] is True
    found = {test["id"]: test["verdict"] for test in document["tests"]}
    assert len(found) == len(document["tests"]) == document["summary"]["total"]
    with (out / "csip-summary.csv").open(newline="") as stream:
        rows = {row["procedure"]: row["verdict"] for row in csv.DictReader(stream)}
    assert {case: rows[case] for case in found} == found
    html = (out / "report.html").read_text()
    for case, verdict in found.items():
        # The procedure table and the tests table both name the case with its verdict.
        row = rf'<a href="#t{case}">{case}</a></td><td>[^<]*</td>(<td>[^<]*</td>)?<td><span class="b {verdict}">'
        assert len(re.findall(row, html)) == 2, (case, verdict)
    for verdict in set(found.values()):
        count = sum(1 for v in found.values() if v == verdict)
        assert f'<div class="card {verdict}"><span class="num">{count}</span>{verdict}</div>' in html
    if junit:
        properties = {}
        for case in ET.parse(out / "junit.xml").getroot().iter("testcase"):
            named = {p.get("name"): p.get("value") for p in case.iter("property")}
            properties[named["csip_id"]] = named["verdict"]
        assert properties == found
    for test in document["tests"]:
        for step in test["steps"]:
            for exchange in step["exchanges"]:
                assert (out / exchange["evidence"]).is_file()
    done = cli("verify", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative path -> bytes): to show that something left a bundle untouched."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}
