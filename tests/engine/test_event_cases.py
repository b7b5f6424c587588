"""Waits on the DUT's clock, event checks and --time-scale, through cases written in the test, against the
reference server over mutual TLS."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, FAILED, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions, SessionConfigError
from tests.casekit import reference_options, run_case, write_case

SCALE = 0.01

HEAD = """\
id: LAB-020
title: events written in the test
role: server
procedure: {doc: d, version: '1'}
setup:
  - preregister-enddevice: {lfdi: "${client.lfdi}", sfdi: "${client.sfdi}"}
steps:
"""
READ_TIME = """\
  - name: read the server's Time
    request: {method: GET, path: /tm}
    expect: {status: 200, schema: Time}
    set: {start: "${dut_time + 120}"}
"""


def options(server: ReferenceProcess, pki: TestPki, **extra: object) -> RunOptions:
    return reference_options(server, pki, **{"time_scale": server.time_scale, "time_origin": server.time_origin,
                                              **extra})


def run_steps(steps: str, server: ReferenceProcess, pki: TestPki, tmp_path: Path,
              progress: list[str] | None = None) -> TestRecord:
    case = write_case(tmp_path, "LAB-020", HEAD + textwrap.dedent(steps))
    return run_case(server, pki, case, progress=None if progress is None else progress.append,
                    time_scale=server.time_scale, time_origin=server.time_origin, out=str(tmp_path / "out"))


@pytest.fixture
def scaled(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(pki, time_scale=SCALE, preregister=[(pki.clients["client"].cert, 111115)],
                                timeout=60) as server:
        yield server


@pytest.fixture
def wrong_order(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(pki, time_scale=SCALE, defects=["dercontrol-list-wrong-order"], timeout=60) as server:
        yield server


TIES = READ_TIME + """\
  - name: event A
    action: {create-dercontrol: {program: "1", start: "${start}", duration: 60, control: {opModMaxLimW: 5000}}}
  - name: let the server's clock move on, so that B is created later
    wait: {until: "${dut_time + 5}", for: "5 s on the server's clock"}
  - name: event B, same start
    action: {create-dercontrol: {program: "1", start: "${start}", duration: 60, control: {opModMaxLimW: 4000}}}
  - name: the list is in the 2030.5 order
    request: {method: GET, path: /derp/1/derc, pages: 255}
    expect: {status: 200, schema: DERControlList, list_order: true, event_status: {}}
"""


def test_same_start_events_are_listed_newest_first(scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps(TIES, scaled, pki, tmp_path)
    assert record.verdict == PASSED, record.reason


def test_the_list_order_check_catches_start_ties_in_creation_order(
        wrong_order: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps(TIES, wrong_order, pki, tmp_path)
    assert record.verdict == FAILED
    assert record.reason.startswith("step 5 'the list is in the 2030.5 order': resource.DERControl[1]: expected "
                                    "DERControlList order (IEEE 2030.5: interval.start ascending, then creationTime "
                                    "descending"), record.reason


def test_a_wait_reports_what_it_waits_for_and_records_the_dut_time(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    progress: list[str] = []
    record = run_steps(READ_TIME + textwrap.indent(textwrap.dedent("""\
      - name: wait two minutes of the server's clock
        wait: {until: "${start}", for: "the start", max: 600}
      - name: the server's clock has moved on
        request: {method: GET, path: /tm}
        expect: {status: 200, schema: Time, resource: {currentTime: {min: "${start}"}}}
    """), "  "), scaled, pki, tmp_path, progress)
    assert record.verdict == PASSED, record.reason
    assert progress and progress[0].startswith("LAB-020 step 2: waiting until the start on the DUT's clock (")
    assert progress[0].endswith("s left, time scale 0.01)")
    wait = record.steps[1]
    assert wait.expected["for"] == "the start" and wait.observed["dut_time"] >= wait.expected["until"]
    # Two minutes of the server's clock took about 1.2 s of ours.
    assert 0.5 < wait.duration_s < 10


def test_a_wait_before_the_time_was_read_is_an_error(scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps("""\
      - name: wait
        wait: {until: "${now + 60}", for: "a minute"}
      - {name: dcap, request: {method: GET, path: /dcap}, expect: {status: 200}}
    """, scaled, pki, tmp_path)
    assert record.verdict == ERROR
    assert "an earlier step must GET the DUT's Time" in record.reason


def test_the_dut_time_before_the_time_was_read_is_an_error(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps("""\
      - name: dcap
        request: {method: GET, path: "/dcap?t=${dut_time}"}
        expect: {status: 200}
    """, scaled, pki, tmp_path)
    assert record.verdict == ERROR
    assert "the DUT's clock is not known yet" in record.reason


def test_a_wait_longer_than_its_max_is_an_error_not_a_hang(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps(READ_TIME + textwrap.indent(textwrap.dedent("""\
      - name: wait a day
        wait: {until: "${dut_time + 86400}", for: "tomorrow", max: 600}
    """), "  "), scaled, pki, tmp_path)
    assert record.verdict == ERROR
    assert "more than the step allows (600 s)" in record.reason


def test_the_time_scale_is_recorded_in_the_results(scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps(READ_TIME, scaled, pki, tmp_path)
    assert record.verdict == PASSED
    assert json.loads((tmp_path / "out" / "results.json").read_text())["run"]["time_scale"] == SCALE


def test_a_time_scale_for_a_dut_whose_profile_does_not_allow_it_is_refused(
        scaled: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "real-dut.yaml"
    profile.write_text("role: server\ncapabilities: [time]\n")
    with pytest.raises(SessionConfigError, match="time scale other than 1 needs a DUT that runs its clock faster"):
        HarnessSession(options(scaled, pki, profile=str(profile)))


@pytest.mark.parametrize("scale", [0.0, 2.0])
def test_a_time_scale_outside_0_to_1_is_refused(scaled: ReferenceProcess, pki: TestPki, scale: float) -> None:
    with pytest.raises(SessionConfigError, match="expected a time scale F with 0 < F <= 1"):
        HarnessSession(options(scaled, pki, time_scale=scale))
