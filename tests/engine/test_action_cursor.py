"""An action step moves the await cursor to where it began: after a power-cycle, an await (since: last) takes
the DER's fresh walk, never a request it made before it was restarted (real reference DER client, real mutual
TLS on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

from harness.pki import TestPki
from harness.results import PASSED
from tests.engine.test_observe_steps import profile_with, run

CASE = """\
id: ACT-001
title: the walk after a power-cycle
role: client
procedure: {doc: self-test, version: "1"}
serve: der-basic
steps:
  - {name: the DER polls for a while, pause: {for: 700}}
  - {name: the DER starts afresh, action: {power-cycle: {}}}
  - {name: GET DeviceCapability, await: {method: GET, path: /dcap, within: 300}}
"""


def test_an_await_after_a_power_cycle_takes_the_walk_after_it(pki: TestPki, tmp_path: Path) -> None:
    case = tmp_path / "ACT-001.yaml"
    case.write_text(CASE)
    record = run(pki, case, profile_with(tmp_path))
    assert record.verdict == PASSED, record.reason
    paused_until = record.steps[0].expected["until"]
    # The DER polled /dcap (pollRate 300 s) during the 700 s pause; the await passes over those polls.
    assert record.steps[2].observed["at"] >= paused_until, (record.steps[2].observed, paused_until)
