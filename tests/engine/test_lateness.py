"""A harness late to a wait is an error, never a DUT failure (`late:` on waits, --late), against the reference server
over mutual TLS at time scale 0.01, with a real slow action (a subprocess that sleeps) making the harness late."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.engine.lateness import LATE_CAP_S, LATE_WALL_S, default_late
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, NOT_RUN, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions, SessionConfigError
from tests.casekit import PROFILE, run_case, write_case

SCALE = 0.01
# The slow action: 1.5 s of our clock is 150 s of the reference server's at time scale 0.01.
SLEEP_S = 1.5

HEAD = """\
id: LAB-021
title: lateness written in the test
role: server
procedure: {doc: d, version: '1'}
setup:
  - preregister-enddevice: {lfdi: "${client.lfdi}", sfdi: "${client.sfdi}"}
steps:
  - name: read the server's Time
    request: {method: GET, path: /tm}
    expect: {status: 200, schema: Time}
    set: {start: "${dut_time + 20}"}
"""
EVENT = """\
  - name: an event of 60 s from 20 s on
    action: {create-dercontrol: {program: "1", start: "${start}", duration: 60, control: {opModMaxLimW: 5000}}}
"""
SLOW = """\
  - name: a slow DUT-side action (the profile maps it to a command that sleeps)
    action: {power-reset: {}}
"""
WAIT = """\
  - name: wait for the event start + 10 s
    wait: {until: "${start + 10}", for: "the event's start + 10 s", max: 600%s}
"""
ACTIVE = """\
  - name: the event is Active
    request: {method: GET, path: /derp/1/derc}
    expect:
      status: 200
      schema: DERControlList
      resource: {DERControl: {contains: [{EventStatus: {currentStatus: 1}}]}}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=60,
                          check=False, start_new_session=True)


def slow_profile(tmp_path: Path) -> Path:
    """The reference server's profile with power-reset carried out by a command that sleeps SLEEP_S."""
    text = PROFILE.read_text()
    assert "  power-reset: {builtin: {}}\n" in text
    argv = f'["{sys.executable}", "-c", "import time; time.sleep({SLEEP_S})"]'
    profile = tmp_path / "slow-profile.yaml"
    slow = f"  power-reset: {{command: {{argv: {argv}}}}}\n"
    profile.write_text(text.replace("  power-reset: {builtin: {}}\n", slow))
    return profile


def run_steps(steps: str, server: ReferenceProcess, pki: TestPki, tmp_path: Path, **extra: object) -> TestRecord:
    case = write_case(tmp_path, "LAB-021", HEAD + steps)
    return run_case(server, pki, case, **{"profile": str(slow_profile(tmp_path)), "time_scale": server.time_scale,
                                          "time_origin": server.time_origin, "out": str(tmp_path / "out"), **extra})


@pytest.fixture
def scaled(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(pki, time_scale=SCALE, preregister=[(pki.clients["client"].cert, 111115)],
                                timeout=60) as server:
        yield server


def test_the_default_tolerance_is_a_few_wall_seconds_on_the_dut_clock_capped() -> None:
    assert default_late(1) == LATE_WALL_S == 5
    assert default_late(0.5) == 10
    assert default_late(0.01) == LATE_CAP_S == 30


def test_an_on_time_wait_and_the_request_after_it_pass(scaled: ReferenceProcess, pki: TestPki,
                                                       tmp_path: Path) -> None:
    record = run_steps(EVENT + WAIT % "" + ACTIVE, scaled, pki, tmp_path)
    assert record.verdict == PASSED, record.reason
    wait = record.steps[2]
    assert wait.expected["late_s"] == 30
    assert 0 <= wait.observed["dut_time"] - wait.expected["until"] <= 30


def test_a_wait_reached_late_is_an_error_naming_when_it_should_have_acted(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps(EVENT + SLOW + WAIT % "" + ACTIVE, scaled, pki, tmp_path)
    assert record.verdict == ERROR, record.reason
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, PASSED, ERROR, NOT_RUN]
    until = record.steps[3].expected["until"]
    assert record.reason.startswith(
        f"step 4 'wait for the event start + 10 s': the harness was late: expected to act at {until} on the DUT's "
        "clock (the event's start + 10 s), at most 30 s after it, acted at "), record.reason
    assert "s of wall time at time scale 0.01); the DUT is not to blame (" in record.reason
    # The sleep put the harness about 130 s (of the DUT's clock) past the target.
    late = record.steps[3].observed["dut_time"] - until
    assert 100 < late < 1000


def test_a_step_late_tolerance_lets_a_late_wait_go_on(scaled: ReferenceProcess, pki: TestPki,
                                                      tmp_path: Path) -> None:
    steps = SLOW + WAIT % ", late: 900" + """\
  - name: the server's clock has moved on
    request: {method: GET, path: /tm}
    expect: {status: 200, schema: Time, resource: {currentTime: {min: "${start + 10}"}}}
"""
    record = run_steps(steps, scaled, pki, tmp_path)
    assert record.verdict == PASSED, record.reason
    assert record.steps[2].expected["late_s"] == 900


def test_a_failed_request_sent_late_right_after_a_wait_is_an_error_not_a_failure(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    # The wait ends on time; the slow action after it makes the harness miss the event's window.
    record = run_steps(EVENT + WAIT % "" + SLOW + ACTIVE, scaled, pki, tmp_path)
    assert record.verdict == ERROR, record.reason
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, PASSED, PASSED, ERROR]
    assert record.reason.startswith("step 5 'the event is Active': the harness was late: expected to act at ")
    assert ", sent the request at " in record.reason
    # What the DUT showed stays in the message: the ended event.
    assert "(the step saw: resource.DERControl" in record.reason and "currentStatus" in record.reason


def test_the_run_late_option_sets_every_wait_s_tolerance(scaled: ReferenceProcess, pki: TestPki,
                                                         tmp_path: Path) -> None:
    record = run_steps(SLOW + WAIT % "", scaled, pki, tmp_path, late=900.0)
    assert record.verdict == PASSED, record.reason
    assert record.steps[2].expected["late_s"] == 900


def test_a_late_option_that_is_not_a_positive_number_is_a_usage_error(pki: TestPki, tmp_path: Path) -> None:
    client = pki.clients["client"]
    with pytest.raises(SessionConfigError, match=r"--csip-late: expected how many seconds .* saw 'soon'"):
        HarnessSession(RunOptions(dut="https://127.0.0.1:1", cert=str(client.cert), key=str(client.key),
                                  ca=str(pki.ca), profile=str(PROFILE), late="soon"))  # type: ignore[arg-type]
    done = cli("run", "--reference", "--late", "0", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "--late: expected how many seconds of the DUT's clock" in done.stderr and "saw 0" in done.stderr


def test_a_late_on_a_wait_must_be_a_positive_number(tmp_path: Path) -> None:
    from harness.cases.loader import CaseFileError

    case = tmp_path / "LAB-022.yaml"
    case.write_text(HEAD.replace("LAB-021", "LAB-022") + """\
  - name: wait
    wait: {until: "${start}", for: "the start", late: -3}
""")
    with pytest.raises(CaseFileError) as caught:
        load_case(case)
    assert "late" in str(caught.value)
