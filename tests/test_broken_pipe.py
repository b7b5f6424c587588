"""A listing piped into a reader that stops (`csip-harness defects | head -1`) ends quietly: no traceback,
no "Exception ignored", exit 0, whether Python's output is buffered or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.pki import TestPki

LISTINGS = {
    "defects": ["defects"],
    "cases": ["cases"],
    "actions": ["actions"],
    "capabilities": ["capabilities"],
    "validate": ["validate", "{xml}", "{xml}", "{xml}"],
    "lfdi": ["lfdi", "{cert}"],
}
VALID_TIME = ('<Time xmlns="urn:ieee:std:2030.5:ns" href="/tm"><currentTime>1700000000</currentTime>'
              "<dstEndTime>1699164000</dstEndTime><dstOffset>3600</dstOffset><dstStartTime>1678604400</dstStartTime>"
              "<quality>7</quality><tzOffset>-18000</tzOffset></Time>")


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("reader", ["closed at once", "reads one line"])
@pytest.mark.parametrize("command", list(LISTINGS))
def test_a_listing_into_a_reader_that_stops_exits_quietly(command: str, reader: str, buffered: bool, pki: TestPki,
                                                          tmp_path: Path) -> None:
    xml = tmp_path / "time.xml"
    xml.write_text(VALID_TIME)
    args = [arg.format(xml=xml, cert=pki.clients["client"].cert) for arg in LISTINGS[command]]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    with subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env) as process:
        assert process.stdout is not None and process.stderr is not None
        if reader == "reads one line":
            assert process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        status = process.wait(timeout=60)
    assert stderr == "" and status == 0, (status, stderr)
