"""The client-role runner against a scripted client over real mutual TLS: a case passes for a client that
does what it must and fails, at the right step and with a message naming what was missing, for one that
does not; hostile clients give a failed verdict and leave the test server up for the next case."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.runner import run_case
from harness.pki import TestPki
from harness.results import FAILED, NOT_RUN, PASSED, TestRecord
from harness.sep.schema import SchemaSet
from harness.server.clientrun import ServerFiles, start_test_server
from tests.scripted_client import ScriptedDer

SCALE = 0.01
CASE = """\
id: LAB-101
title: walk, event responses and polling
role: client
procedure: {doc: d, version: '1'}
serve: der-basic
forbid:
  - {method: POST, path: /rsps/1/rsp, where: {status: 7}, reason: the DER must not opt out}
steps:
  - name: discovers from DeviceCapability
    await: {method: GET, path: /dcap, within: 60}
  - name: finds its EndDevice
    await: {method: GET, path: /edev/1, within: 60}
  - name: reads its Registration
    await: {method: GET, path: /edev/1/rg, within: 60}
  - name: schedule an event in the first program
    act:
      add:
        href: /derp/1/derc/1
        to: /derp/1/derc
        DERControl:
          replyTo: /rsps/1/rsp
          responseRequired: "03"
          mRID: C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1
          description: event 1
          creationTime: "${now}"
          interval: {duration: 60, start: "${now + 120}"}
          DERControlBase: {opModMaxLimW: 50}
    set: {start: "${now + 120}"}
  - name: Response 1, event received
    await:
      method: POST
      path: /rsps/1/rsp
      where: {status: "1"}
      before: "${start}"
      expect:
        schema: DERControlResponse
        resource: {subject: C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1, endDeviceLFDI: "${device.lfdi}"}
    save_request: {received_at: at, location: location}
  - name: Response 2, event started
    await: {method: POST, path: /rsps/1/rsp, where: {status: "2"}, after: "${start - 5}", before: "${start + 30}"}
  - name: a second poll cycle
    pause: {for: 260}
  - name: polls DeviceCapability at its pollRate
    check: {poll_rate: {path: /dcap, rate: 300}}
"""


async def run(pki: TestPki, tmp_path: Path, behaviour: str, text: str = CASE) -> tuple[TestRecord, TestRecord]:
    """Run the case against a scripted client, then run it again against a good one on the same server."""
    path = tmp_path / "LAB-101.yaml"
    path.write_text(text)
    case = load_case(path)
    clock = Clock(SCALE)
    ctx = await start_test_server(DutProfile(role="client"), ServerFiles(pki.server.cert, pki.server.key, pki.ca),
                                  clock, SchemaSet.bundled(), {"client": pki.clients["client"].cert})
    lfdi = ctx.builtins["device"]["lfdi"]
    records = []
    try:
        for kind in (behaviour, "good"):
            der = ScriptedDer(ctx.base_url, pki, lfdi, scale=SCALE, behaviour=kind)
            task = asyncio.create_task(der.run())
            try:
                records.append(await run_case(case, ctx))
            finally:
                task.cancel()
                await der.stop()
    finally:
        await ctx.test_server.close()
    return records[0], records[1]


def failed_at(record: TestRecord) -> tuple[int, str]:
    step = next(s for s in record.steps if s.verdict == FAILED)
    return step.index, step.message


async def test_a_conforming_client_passes_with_evidence_and_a_timeline(pki: TestPki, tmp_path: Path) -> None:
    record, _ = await run(pki, tmp_path, "good")
    assert record.verdict == PASSED, record.reason
    assert [s.verdict for s in record.steps] == [PASSED] * 8
    response = record.steps[4]
    assert response.exchanges[0].method == "POST" and response.exchanges[0].status == 201
    assert response.saved["location"].startswith("/rsps/1/rsp/")
    assert len(record.steps[7].observed["polls"]) >= 2
    timeline = record.timeline
    assert timeline["acts"][0]["verb"] == "add" and timeline["acts"][0]["duration"] == 60
    assert any(r["method"] == "POST" for r in timeline["requests"])
    assert [a["at"] is not None for a in timeline["awaits"]] == [True] * 5


async def test_a_client_that_skips_response_2_fails_at_that_step(pki: TestPki, tmp_path: Path) -> None:
    record, after = await run(pki, tmp_path, "skip-started")
    assert record.verdict == FAILED
    index, message = failed_at(record)
    assert index == 6 and "POST /rsps/1/rsp whose body matches {'status': '2'}" in message and "none came" in message
    assert [s.verdict for s in record.steps[6:]] == [NOT_RUN, NOT_RUN]
    assert after.verdict == PASSED, after.reason


async def test_an_opt_out_is_forbidden_over_the_whole_case(pki: TestPki, tmp_path: Path) -> None:
    record, _ = await run(pki, tmp_path, "opt-out")
    assert record.verdict == FAILED
    assert record.steps[4].verdict == FAILED  # Response 1 never came
    forbidden = record.steps[-1]
    assert forbidden.name.startswith("forbid: POST /rsps/1/rsp") and "must not opt out" in forbidden.message


@pytest.mark.parametrize("behaviour", ["unknown-certificate", "garbage", "disconnect"])
async def test_hostile_clients_fail_their_case_and_the_server_serves_the_next(pki: TestPki, tmp_path: Path,
                                                                             behaviour: str) -> None:
    text = CASE.replace("within: 60", "within: 30")
    record, after = await run(pki, tmp_path, behaviour, text)
    assert record.verdict == FAILED
    index, message = failed_at(record)
    expected = {"unknown-certificate": (1, "answered 403"), "garbage": (5, "none came"),
                "disconnect": (3, "none came")}[behaviour]
    assert (index, expected[1] in message) == (expected[0], True), message
    assert after.verdict == PASSED, after.reason


async def test_poll_rate_after_leaves_out_the_polls_before_it(pki: TestPki, tmp_path: Path) -> None:
    """`after` counts only the GETs from a server time on (CORE-003: the polls of the device before it
    restarted): the same good client passes with the default, and has no poll left after the pause."""
    text = CASE.replace("    pause: {for: 260}\n", "    pause: {for: 260}\n    set: {late: \"${now}\"}\n")
    late = text.replace("check: {poll_rate: {path: /dcap, rate: 300}}",
                        'check: {poll_rate: {path: /dcap, rate: 300, after: "${late}"}}')
    record, _ = await run(pki, tmp_path, "good", late)
    assert record.verdict == FAILED
    index, message = failed_at(record)
    assert index == 8 and "expected at least 2 GETs of /dcap" in message, message
    assert message.endswith(("saw 0", "saw 1")), message
    assert record.steps[7].expected["after"] > 0
    record, _ = await run(pki, tmp_path, "good", text)
    assert record.verdict == PASSED, record.reason


async def test_poll_rate_until_needs_polls_through_that_time(pki: TestPki, tmp_path: Path) -> None:
    """`until` (CORE-022: DERControl polling through T0 + 720 s): polls that stopped well before it fail; polls
    going on through it pass. `sent_times` judges the times a client stamps on what it sends, and is not
    applicable when nothing it sent carries the named field."""
    far = CASE.replace("check: {poll_rate: {path: /dcap, rate: 300}}",
                       'check: {poll_rate: {path: /dcap, rate: 300, until: "${start + 1000}"}}')
    record, _ = await run(pki, tmp_path, "good", far)
    assert record.verdict == FAILED
    index, message = failed_at(record)
    assert index == 8 and "expected GETs of /dcap every 300 s through server time" in message, message
    near = CASE.replace("check: {poll_rate: {path: /dcap, rate: 300}}",
                        'check: {poll_rate: {path: /dcap, rate: 300, until: "${start}"}}')
    near += ("  - name: the Responses carry the server's time\n"
             "    check: {sent_times: {fields: [createdDateTime], tolerance: 30}}\n"
             "  - name: no status was read\n"
             "    check: {sent_times: {fields: [readingTime], tolerance: 30}}\n")
    record, _ = await run(pki, tmp_path, "good", near)
    assert record.verdict == PASSED, record.reason
    assert record.steps[7].expected["until"] > 0
    assert record.steps[8].verdict == PASSED and record.steps[8].observed["count"] >= 2
    assert record.steps[9].verdict == "not_applicable" and "no body with readingTime" in record.steps[9].message
