"""The rules of a verdict, one kind at a time: a conforming variant passes, a DUT fault fails naming the
requirement, and nothing else is blamed on the DUT.

Each conforming variant is the reference server behind a proxy that rewrites its answers the way another
conforming server would write them (see tests/rewriting_proxy.py); the bundled cases run against it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import FAILED, NOT_APPLICABLE, PASSED, TestRecord
from harness.session import HarnessSession, RunOptions
from tests.casekit import run_case, write_case
from tests.rewriting_proxy import Answer, RewritingProxy

CASES = project_dir("testcases") / "server"
PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"


def run(base_url: str, reference: ReferenceProcess, pki: TestPki, case_ids: list[str], out: Path,
        profile: Path = PROFILE) -> dict[str, TestRecord]:
    """Run bundled cases against base_url (the reference itself or a proxy), set up through the reference."""
    client = pki.clients["client"]
    if base_url != reference.base_url:
        # Behind a proxy the reference's own 301s lead to its own HTTPS origin: name it, as a lab would.
        data = yaml.safe_load(profile.read_text())
        data["tls"] = {**data.get("tls", {}), "allowed_origins": [reference.base_url]}
        # The proxy reaches the reference with one certificate whatever identity a step acts as, so the steps of
        # another identity (CORE-004's aggregator) cannot be judged through it.
        data["capabilities"] = [c for c in data.get("capabilities", []) if c != "aggregator"]
        profile = out.parent / f"{out.name}-profile.yaml"
        profile.write_text(yaml.safe_dump(data))
    options = RunOptions(dut=base_url, http_url=reference.http_url, cert=str(client.cert), key=str(client.key),
                         ca=str(pki.ca), profile=str(profile), out=str(out), variables=reference.admin_variables(),
                         unattended=True)
    session = HarnessSession(options)
    try:
        return {case_id: session.run(load_case(CASES / f"{case_id}.yaml")) for case_id in case_ids}
    finally:
        session.close()


def run_inline(text: str, server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> TestRecord:
    """Run a case written in the test against a reference server, as the harness's own client."""
    return run_case(server, pki, write_case(tmp_path, "LAB-010", text), variables={})


@pytest.fixture
def fresh_reference(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A clean reference server of the test's own, so what one test leaves behind cannot reach another."""
    with start_reference_server(pki) as server:
        yield server


def warnings_of(record: TestRecord) -> list[str]:
    return [f.message for step in record.steps for f in step.findings if f.severity == "warning"]


# --- 1. a reserved enumeration value is a warning, never a failure ----------------------------------------


def test_a_reserved_primacy_passes_basic_001_with_a_warning(fresh_reference: ReferenceProcess, pki: TestPki,
                                                             tmp_path: Path) -> None:
    def primacy_4(answer: Answer) -> None:
        answer.set_text(re.sub(r"<primacy>\d+</primacy>", "<primacy>4</primacy>", answer.text()))

    with RewritingProxy(fresh_reference, pki, primacy_4) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["BASIC-001"], tmp_path)["BASIC-001"]
    assert record.verdict == PASSED, record.reason
    warnings = warnings_of(record)
    assert warnings and all(w.startswith("DERProgram/primacy: 4 is a reserved code (defined PrimacyType codes: "
                                         "0-2, 65-191") for w in warnings), warnings
    program_list = next(step for step in record.steps if "DERProgramList" in step.name)
    [finding] = program_list.findings
    assert (finding.kind, finding.severity) == ("check", "warning")


# --- 2. identity and order by href, never volatile fields ------------------------------------------------


def test_a_changed_time_that_moves_between_gets_passes_core_004(fresh_reference: ReferenceProcess, pki: TestPki,
                                                                tmp_path: Path) -> None:
    ticks = iter(range(1_800_000_000, 1_900_000_000, 7))

    def moving_changed_time(answer: Answer) -> None:
        answer.set_text(re.sub(r"<changedTime>\d+</changedTime>",
                               lambda _: f"<changedTime>{next(ticks)}</changedTime>", answer.text()))

    with RewritingProxy(fresh_reference, pki, moving_changed_time) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-004"], tmp_path)["CORE-004"]
    assert record.verdict == PASSED, record.reason
    every = next(step for step in record.steps if step.name.startswith("?l=1000"))
    assert every.verdict == PASSED and "hrefs" in str(every.expected["resource"])


def test_a_list_out_of_order_fails_core_004_naming_the_first_href_that_differs(
    fresh_reference: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    def swap_on_full_page(answer: Answer) -> None:
        if "l=1000" in answer.request.target:
            items = re.findall(r"<(EndDevice|DERProgram) href=.*?</\1>", answer.text(), flags=re.S)
            whole = re.findall(r"(<(?:EndDevice|DERProgram) href=.*?</(?:EndDevice|DERProgram)>)", answer.text(),
                               flags=re.S)
            assert len(items) >= 3
            text = answer.text().replace(whole[0], "\0").replace(whole[1], whole[0]).replace("\0", whole[1])
            answer.set_text(text)

    with RewritingProxy(fresh_reference, pki, swap_on_full_page) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-004"], tmp_path)["CORE-004"]
    assert record.verdict == FAILED
    assert re.search(r"step 11 '\?l=1000 returns every element, in order': resource\.(EndDevice|DERProgram)\[0\]"
                     r"\.href: expected '[^']+' \(hrefs in this order", record.reason), record.reason


# --- 4. POST where 2030.5 allows it; 201 or 204 where both are allowed; re-runs ----------------------------


def test_core_002_passes_twice_against_the_same_server(fresh_reference: ReferenceProcess, pki: TestPki,
                                                       tmp_path: Path) -> None:
    first = run(fresh_reference.base_url, fresh_reference, pki, ["CORE-002"], tmp_path / "1")["CORE-002"]
    second = run(fresh_reference.base_url, fresh_reference, pki, ["CORE-002"], tmp_path / "2")["CORE-002"]
    assert first.verdict == PASSED, first.reason
    assert second.verdict == PASSED, second.reason
    statuses = [step.exchanges[0].status for step in (first.steps[3], second.steps[3])]
    assert all(status in (201, 204) for status in statuses)


def test_core_002_accepts_204_with_location_for_a_known_mrid(fresh_reference: ReferenceProcess, pki: TestPki,
                                                             tmp_path: Path) -> None:
    def answer_204(answer: Answer) -> None:
        posted = answer.request.body.decode()
        if answer.request.method == "POST" and answer.status == 201 and "<MirrorUsagePoint" in posted:
            answer.status = 204

    with RewritingProxy(fresh_reference, pki, answer_204) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-002"], tmp_path)["CORE-002"]
    assert record.verdict == PASSED, record.reason
    assert record.steps[3].exchanges[0].status == 204


def test_no_case_posts_to_a_mirror_usage_point_expecting_an_error() -> None:
    # 2030.5 has clients POST MirrorMeterReadings to their MirrorUsagePoint: POST there is mandatory.
    for file in sorted(CASES.glob("*.yaml")):
        case = load_case(file)
        for step in case.steps:
            spec = step.request
            if spec is None or spec.method != "POST":
                continue
            errors = [status for status in step.expect.status if status >= 400]
            assert not (errors and "created" in (spec.path or "")), (case.id, step.index)
            assert not (errors and "mup" in (spec.path or "").lower()), (case.id, step.index)


# --- 5. optional function sets gate steps, not cases --------------------------------------------------------


def test_core_001_and_002_walk_what_the_dut_links(fresh_reference: ReferenceProcess, pki: TestPki,
                                                  tmp_path: Path) -> None:
    def fewer_links(answer: Answer) -> None:
        text = re.sub(r"<(DERProgramListLink|MirrorUsagePointListLink)[^>]*/>", "", answer.text())
        answer.set_text(text)

    with RewritingProxy(fresh_reference, pki, fewer_links) as proxy:
        records = run(proxy.base_url, fresh_reference, pki, ["CORE-001", "CORE-002"], tmp_path)
    core_001, core_002 = records["CORE-001"], records["CORE-002"]
    assert core_001.verdict == PASSED and core_002.verdict == PASSED, (core_001.reason, core_002.reason)
    skipped = [s for s in core_001.steps if s.verdict == NOT_APPLICABLE]
    assert skipped and all("derp_list is absent" in s.message or "program is absent" in s.message
                           for s in skipped)
    assert any(s.verdict == PASSED and "Time" in s.name for s in core_001.steps)
    mirror = [s for s in core_002.steps if "MirrorUsagePoint" in s.name]
    assert mirror and all(s.verdict == NOT_APPLICABLE and "mup_list is absent" in s.message for s in mirror)
    assert any(s.verdict == PASSED and "LogEvent" in s.name for s in core_002.steps)


# --- 6. off-topic strictness ------------------------------------------------------------------------------


def test_a_device_capability_without_poll_rate_passes_every_case(pki: TestPki, tmp_path: Path) -> None:
    with start_reference_server(pki, defects=["dcap-missing-poll-rate"]) as server:
        records = run(server.base_url, server, pki, ["CORE-001", "CORE-002", "CORE-004", "CORE-005", "BASIC-001"],
                      tmp_path)
    assert {case_id: r.verdict for case_id, r in records.items()} == dict.fromkeys(records, PASSED)


# --- 10. no check, no pass --------------------------------------------------------------------------------


def test_a_case_whose_steps_all_skip_is_not_applicable_with_the_reasons(fresh_reference: ReferenceProcess,
                                                                        pki: TestPki, tmp_path: Path) -> None:
    def no_links(answer: Answer) -> None:
        if answer.request.target.startswith("/dcap"):
            answer.set_text(re.sub(r"<(\w+Link)[^>]*/>", "", answer.text()))

    case = tmp_path / "testcases" / "server" / "CORE-006.yaml"
    case.parent.mkdir(parents=True)
    case.write_text(
        "id: CORE-006\ntitle: only what is linked\nrole: server\nprocedure: {doc: d, version: '1'}\n"
        "steps:\n"
        "  - name: dcap\n    request: {method: GET, path: /dcap}\n    expect: {status: 200}\n"
        "    save: {tm: 'TimeLink.href?'}\n"
        "  - name: time\n    when: tm\n    request: {method: GET, path: '${tm}'}\n    expect: {status: 200}\n"
    )
    loaded = load_case(case)
    lone = dataclasses.replace(loaded, steps=loaded.steps[1:])
    client = pki.clients["client"]
    with RewritingProxy(fresh_reference, pki, no_links) as proxy:
        session = HarnessSession(RunOptions(dut=proxy.base_url, cert=str(client.cert), key=str(client.key),
                                            ca=str(pki.ca), profile=str(PROFILE), unattended=True,
                                            variables=fresh_reference.admin_variables()))
        try:
            ran = session.run(loaded)
            never = session.run(lone)
        finally:
            session.close()
    assert ran.verdict == PASSED  # the DeviceCapability GET was checked
    assert ran.steps[1].verdict == NOT_APPLICABLE
    assert never.verdict == NOT_APPLICABLE
    assert never.reason.startswith("nothing was checked: step 2: when: 'tm' does not hold (tm is absent)")


# --- 12. messages say what the DUT did ---------------------------------------------------------------------


def test_an_html_error_page_is_reported_as_the_status_and_content_type(fresh_reference: ReferenceProcess,
                                                                       pki: TestPki, tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>"

    def broken_time(answer: Answer) -> None:
        if answer.request.target == "/tm":
            answer.status, answer.body = 500, page
            answer.headers = [("Content-Type", "text/html")]

    with RewritingProxy(fresh_reference, pki, broken_time) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-005"], tmp_path)["CORE-005"]
    assert record.verdict == FAILED
    assert record.reason == (f"step 2 'GET Time through the TimeLink; quality is 7': status: expected 200, "
                             f"saw 500 with Content-Type text/html ({len(page)} bytes)")
    assert "DOCTYPE" not in record.reason and record.steps[1].findings == []


def test_an_error_body_names_its_reason_code(fresh_reference: ReferenceProcess, pki: TestPki,
                                             tmp_path: Path) -> None:
    def refuse_time(answer: Answer) -> None:
        if answer.request.target == "/tm":
            answer.status = 400
            answer.set_text('<Error xmlns="urn:ieee:std:2030.5:ns"><reasonCode>1</reasonCode></Error>')

    with RewritingProxy(fresh_reference, pki, refuse_time) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-005"], tmp_path)["CORE-005"]
    assert record.reason.endswith("status: expected 200, saw 400 with Content-Type application/sep+xml (72 bytes): "
                                  "Error reasonCode 1")


# --- 12. waivers work on any step, and stale ones are reported ---------------------------------------------

WAIVER_CASE = """
id: CORE-006
title: a waived step still saves
role: server
procedure: {doc: d, version: '1'}
steps:
  - name: DeviceCapability with a pollRate the lab disputes
    request: {method: GET, path: /dcap}
    expect: {status: 200, resource: {pollRate: 1}}
    save: {tm: TimeLink.href}
  - name: Time through the saved link
    request: {method: GET, path: "${tm}"}
    expect: {status: 200, schema: Time}
"""


def test_a_waived_step_still_saves_and_a_stale_waiver_is_reported(reference_server: ReferenceProcess, pki: TestPki,
                                                                 tmp_path: Path) -> None:
    cases = tmp_path / "testcases" / "server"
    cases.mkdir(parents=True)
    (cases / "CORE-006.yaml").write_text(WAIVER_CASE)
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE.read_text() + "waivers:\n"
                       "  - {case: CORE-006, step: 1, reason: lab ticket 7, by: Test Lab}\n"
                       "  - {case: CORE-006, step: 2, reason: old ticket 3}\n"
                       "  - {case: CORE-006, step: 9, reason: a step that is gone}\n")
    client = pki.clients["client"]
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--dut", reference_server.base_url, "--cert", str(client.cert),
         "--key", str(client.key), "--ca", str(pki.ca), "--profile", str(profile), "--cases", str(cases),
         "--out", str(out), "--unattended", *reference_server.admin_options()],
        capture_output=True, text=True, timeout=120, check=False, start_new_session=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [test] = json.loads((out / "results.json").read_text())["tests"]
    assert test["verdict"] == "passed"
    assert [s["verdict"] for s in test["steps"]] == ["waived", "passed"]
    assert test["steps"][0]["saved"] == {"tm": "/tm"}
    assert [(w["step"], w["status"]) for w in test["waivers"]] == [
        (1, "applied"), (2, "stale: the step now passes"), (9, "stale: the case has no such step")]
    assert "CORE-006: waiver of step 2 (old ticket 3): stale: the step now passes" in done.stdout
    html = (out / "report.html").read_text()
    assert "Waivers of the DUT profile that did not apply" in html
    assert "step 9: stale: the case has no such step (waiver: a step that is gone)" in html


# --- 3. lists scoped to the requesting client --------------------------------------------------------------


def test_scoped_lists_pass_basic_001_and_core_004_through_the_derprogramlist(fresh_reference: ReferenceProcess,
                                                                             pki: TestPki, tmp_path: Path) -> None:
    records = run(fresh_reference.base_url, fresh_reference, pki, ["BASIC-001", "CORE-004"], tmp_path)
    basic, core = records["BASIC-001"], records["CORE-004"]
    assert basic.verdict == PASSED and core.verdict == PASSED, (basic.reason, core.reason)
    assert basic.steps[1].observed["resource"]["all"] == "1"  # the client sees its own EndDevice only
    choice = core.steps[4]
    [passed_over] = choice.observed["passed_over"]
    assert passed_over == "option 1 'the EndDeviceList': resource.all: expected a number >= 3, saw '1'"
    assert choice.observed["chosen"] == "the DERProgramList DeviceCapability links"


def test_an_unscoped_enddevicelist_is_paged_as_the_procedure_prints(pki: TestPki, tmp_path: Path) -> None:
    with start_reference_server(pki, defects=["edev-not-scoped"]) as server:
        record = run(server.base_url, server, pki, ["CORE-004"], tmp_path)["CORE-004"]
    assert record.verdict == PASSED, record.reason
    assert record.steps[4].observed["chosen"] == "the EndDeviceList"
    after = [s for s in record.steps if s.name.startswith("?a=")]
    assert [s.verdict for s in after] == [PASSED, NOT_APPLICABLE]  # time-ordered: the empty-list variant ran


def test_core_004_is_not_applicable_when_no_list_holds_three_items(fresh_reference: ReferenceProcess,
                                                                   pki: TestPki, tmp_path: Path) -> None:
    def no_program_list(answer: Answer) -> None:
        answer.set_text(re.sub(r"<DERProgramListLink[^>]*/>", "", answer.text()))

    with RewritingProxy(fresh_reference, pki, no_program_list) as proxy:
        record = run(proxy.base_url, fresh_reference, pki, ["CORE-004"], tmp_path)["CORE-004"]
    assert record.verdict == NOT_APPLICABLE
    assert record.reason == (
        "step 5 'a list of at least three items this client can see, read whole as the reference order': "
        "no option applies: option 1 'the EndDeviceList': resource.all: expected a number >= 3, saw '1'; "
        "option 2 'the DERProgramList DeviceCapability links': when: 'derp' does not hold (derp is absent); "
        "option 3 \"the DERProgramList of the client's FunctionSetAssignments\": when: 'fsa_derp' does not hold "
        "(fsa_derp is absent); option 4 \"the client's FunctionSetAssignmentsList\": resource.all: expected a "
        "number >= 3, saw '1'")
    assert {s.verdict for s in record.steps[5:]} == {"not_run"}


def test_what_http_asks_and_the_procedure_does_not_is_a_warning(pki: TestPki, tmp_path: Path) -> None:
    # No Date header: RFC 9110 asks for one, CORE-002 does not; no Allow on a 405: HTTP asks, CORE-001 does not.
    with start_reference_server(pki, defects=["no-date-header", "missing-allow-header"]) as server:
        records = run(server.base_url, server, pki, ["CORE-001", "CORE-002"], tmp_path)
    core_001, core_002 = records["CORE-001"], records["CORE-002"]
    assert core_001.verdict == PASSED, core_001.reason
    assert "should: headers.Allow: expected regex (?i).*\\bGET\\b.*, saw absent" in warnings_of(core_001)
    assert core_002.verdict == FAILED and core_002.steps[12].verdict == FAILED  # CORE-002 step 6 requires Allow
    assert "should: headers.Date: expected present, saw absent" in warnings_of(core_002)
    [date] = [f for f in core_002.steps[2].findings if "Date" in f.message]
    assert (date.kind, date.severity) == ("match", "warning")


# --- engine rules the cases rely on -------------------------------------------------------------------------

PAGED = """
id: LAB-010
title: a list read page by page
role: server
procedure: {doc: d, version: '1'}
steps:
  - name: dcap
    request: {method: GET, path: /dcap}
    expect: {status: 200}
    save: {edev: EndDeviceListLink.href}
  - name: every EndDevice, three at a time
    request: {method: GET, path: "${edev}", pages: 3}
    expect:
      status: 200
      schema: EndDeviceList
      resource: {all: 8, results: 8, EndDevice: {count: 8}}
    save: {hrefs: "EndDevice[*].href"}
  - name: the same list in one page has the same hrefs in the same order
    request: {method: GET, path: "${edev}?l=255"}
    expect: {status: 200, resource: {EndDevice: {hrefs: "${hrefs}"}}}
  - name: a body the case got wrong is never sent
    request:
      method: PUT
      path: /dcap
      body: '<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" pollRate="soon"/>'
    expect: {status: 405}
"""


def paged_run(pki: TestPki, tmp_path: Path, *defects: str) -> TestRecord:
    client = pki.clients["client"]
    with start_reference_server(pki, defects=["edev-not-scoped", *defects], extra_enddevices=7,
                                preregister=[(client.cert, 111115)]) as server:
        return run_inline(PAGED, server, pki, tmp_path)


def test_a_list_read_page_by_page_is_judged_whole_and_a_bad_own_body_is_an_error(pki: TestPki,
                                                                                  tmp_path: Path) -> None:
    record = paged_run(pki, tmp_path)
    paged, same, own = record.steps[1], record.steps[2], record.steps[3]
    assert paged.verdict == PASSED and same.verdict == PASSED, record.reason
    assert [e.url.rsplit("?", 1)[1] for e in paged.exchanges] == ["s=0&l=3", "s=3&l=3", "s=6&l=3"]
    assert len(paged.saved["hrefs"]) == 8
    assert record.verdict == "error" and own.verdict == "error" and own.exchanges == []
    assert own.message.startswith("step 4 'a body the case got wrong is never sent': the case's request body is "
                                  "not valid 2030.5 (an authoring mistake, not sent;")


def test_a_clock_off_by_an_hour_is_a_warning_in_core_005(pki: TestPki, tmp_path: Path) -> None:
    with start_reference_server(pki, defects=["time-off-by-hour"]) as server:
        record = run(server.base_url, server, pki, ["CORE-005"], tmp_path)["CORE-005"]
    assert record.verdict == PASSED, record.reason
    [warning] = warnings_of(record)
    assert warning.startswith("should: resource.currentTime: expected a time within 60 s of the harness clock")


def test_a_list_that_ignores_s_fails_when_read_page_by_page(pki: TestPki, tmp_path: Path) -> None:
    record = paged_run(pki, tmp_path, "list-ignores-start")
    paged = record.steps[1]
    assert paged.verdict == FAILED and len(paged.exchanges) == 2  # stopped at the first repeated page
    assert paged.message.endswith("resource: expected the items from s=3 on (list paging, 2030.5 list query s), "
                                  "saw the same items as the page before, at s=0")
