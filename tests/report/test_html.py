"""The HTML report from synthetic records: waivers, DUT setup actions, diffs, bodies, TLS, sequence, coverage."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from harness.catalogue import for_role
from harness.report.html import render_html
from harness.report.writer import FORMAT, FORMAT_VERSION, summarise
from harness.results import ExchangeRecord, FindingRecord, StepRecord, TestRecord, body_evidence

TIME_XML = ('<Time xmlns="urn:ieee:std:2030.5:ns" href="/tm"><currentTime>1</currentTime>'
            "<quality>3</quality></Time>")
TLS = {"version": "TLSv1.2", "cipher": "ECDHE-ECDSA-AES128-CCM8", "peer_certificate_sha256": "AB" * 32}


def exchange(path: str, status: int | None = 200, body: str = TIME_XML) -> ExchangeRecord:
    return ExchangeRecord(method="GET", url=f"https://127.0.0.1:1{path}", request_headers=[("accept", "x")],
                          request_body=body_evidence(b""), started=1.7e9, elapsed_s=0.0021, status=status,
                          response_headers=[("content-type", "application/sep+xml")],
                          response_body=body_evidence(body.encode()) if status else None, tls=dict(TLS),
                          error=None if status else "[Errno 111] Connection refused",
                          error_kind=None if status else "connect")


def doc(*tests: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "summary": summarise(list(tests)),
            "run": {"harness_version": "0.1.0", "started": "2026-01-01T00:00:00+00:00", "complete": True,
                    "dut": {"url": "https://127.0.0.1:1", "role": "server"}}, "tests": list(tests)}


def failed_time_test() -> dict[str, Any]:
    step = StepRecord(index=2, name="GET Time", verdict="failed", message="resource.quality: expected 7, saw '3'",
                      expected={"resource": {"quality": 7}}, observed={"resource": {"quality": "3"}},
                      mismatches=[{"path": "resource.quality", "expected": "7", "seen": "'3'"}],
                      findings=[FindingRecord("element 'bogus' not expected", 4, "/Time/bogus", "xmlschema")],
                      exchanges=[exchange("/tm")])
    first = StepRecord(index=1, name="GET dcap", verdict="passed", exchanges=[exchange("/dcap")])
    return TestRecord(id="CORE-005", title="Basic Time", role="server", verdict="failed",
                      reason=step.message, function_sets=["Time"], steps=[first, step]).to_dict()


def test_failed_step_shows_the_diff_findings_and_indented_bodies() -> None:
    html = render_html(doc(failed_time_test()))
    assert '<div class="path">resource.quality</div><div class="del">- expected: 7</div>' in html
    assert "<div class=\"add\">+ observed: &#39;3&#39;</div>" in html
    assert "element &#39;bogus&#39; not expected" in html and "/Time/bogus" in html
    assert "\n  &lt;quality&gt;3&lt;/quality&gt;\n" in html  # the XML body pretty-printed
    assert '<pre>{\n  "resource": {\n    "quality": 7' in html


def test_sequence_diagram_has_two_arrows_per_exchange_and_tls_details() -> None:
    test = failed_time_test()
    test["steps"][1]["exchanges"].append(asdict(exchange("/tm", status=None)))
    html = render_html(doc(test))
    svg = re.search(r"<svg class=\"seq\".*?</svg>", html, re.S)
    assert svg is not None
    assert svg.group(0).count("<polygon") == 6  # 3 exchanges, a request and a response each
    assert "step 2: GET /tm" in svg.group(0) and "connect: [Errno 111] Connection refused" in svg.group(0)
    assert "<td>TLSv1.2</td><td class=\"mono\">ECDHE-ECDSA-AES128-CCM8</td>" in html and "AB" * 32 in html


def test_waived_step_and_dut_setup_actions_are_shown() -> None:
    test = failed_time_test()
    test["verdict"], test["reason"] = "passed", ""
    test["steps"][1]["verdict"] = "waived"
    test["waivers"] = [{"step": 2, "reason": "lab waiver 17: Time quality is fixed at 3 by design"}]
    test["actions"] = [{"name": "create-enddevices", "params": {"count": 3}, "mapping": "http POST /admin/edev",
                        "outcome": "done", "detail": "201 Created", "started": 1.7e9, "duration_s": 0.25}]
    html = render_html(doc(test))
    assert '<div class="step waived">' in html and '<span class="b waived">waived</span>' in html
    assert '<div class="msg">lab waiver 17: Time quality is fixed at 3 by design' in html
    assert "the check that failed: resource.quality: expected 7" in html
    assert "<h4>DUT setup actions</h4>" in html
    assert "create-enddevices" in html and '{"count": 3}' in html and "http POST /admin/edev" in html


def test_records_without_waivers_or_actions_still_render() -> None:
    test = failed_time_test()
    # A record written before waivers and actions existed has neither key.
    test.pop("waivers"), test.pop("actions")
    for step in test["steps"]:
        step.pop("actions")
    html = render_html(doc(test))
    assert "DUT setup actions" not in html and 'class="step waived"' not in html


def test_coverage_lists_every_procedure_of_the_role_and_summarises_those_not_tested() -> None:
    na = TestRecord(id="CORE-004", title="List Handling", role="server", verdict="not_applicable",
                    reason="the DUT profile does not declare edev-list").to_dict()
    html = render_html(doc(failed_time_test(), na))
    coverage = html.split('<h2 id="coverage">', 1)[1].split('<h2 id="requirements">', 1)[0]
    table, untested = coverage.split('<div class="untested" id="not-tested">', 1)
    # The procedures run are rows of the table; the others are counted and listed compactly, by family.
    rows = re.findall(r'<tr><td class="mono">(?:<a href="#t[^"]+">)?([A-Z]+-\d{3}[A-Z]?)', table)
    assert rows == ["CORE-004", "CORE-005"]
    listed = re.findall(r"([A-Z]+-\d{3}[A-Z]?)\*?", untested.split("<ul>", 1)[1])
    assert sorted(rows + listed) == sorted(p.id for p in for_role("server"))
    required = [p.id for p in for_role("server") if "server" in p.required_for and p.id not in rows]
    assert f"Not tested: {len(listed)} procedure(s), {len(required)} of them required for a Server" in untested
    assert "the DUT profile does not declare edev-list" in table and "NOT SUPPORTED" in table
    assert "not tested" not in table.split("<tbody>", 1)[1]


def test_summaries_by_function_set_and_family() -> None:
    other = TestRecord(id="BASIC-001", title="DER Identification", role="server", verdict="passed",
                       function_sets=["EndDevice", "Time"]).to_dict()
    html = render_html(doc(failed_time_test(), other))
    assert re.search(r'<tr><th scope="row">Time</th><td class="n passed">1</td><td class="n failed">1</td>', html)
    assert re.search(r'<tr><th scope="row">BASIC</th><td class="n passed">1</td>', html)
    assert re.search(r'<tr><th scope="row">CORE</th><td class="n"></td><td class="n failed">1</td>', html)


def test_a_step_that_is_a_dut_side_action_shows_it() -> None:
    test = failed_time_test()
    test["steps"][0]["actions"] = [{"name": "reboot", "params": {}, "mapping": "operator", "outcome": "failed",
                                    "detail": "operator answered no", "started": 1.7e9, "duration_s": 3.0}]
    html = render_html(doc(test))
    step = html.split("<strong>step 1</strong>", 1)[1].split("<strong>step 2</strong>", 1)[0]
    assert '<td class="mono">reboot</td>' in step and '<td class="failed">failed</td>' in step
    assert "operator answered no" in step and "3000 ms" in step


def test_the_written_page_is_the_rendered_one(tmp_path: Any) -> None:
    # write_html streams the template's pieces to the file; the bytes are render_html's.
    from harness.report.html import write_html

    document = doc(failed_time_test())
    path = write_html(document, tmp_path / "report.html")
    assert path.read_text() == render_html(document)
