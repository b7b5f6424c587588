"""results.json is current after every test, and the HTML page renders from it alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.html import render_html, write_html
from harness.report.writer import ResultsWriter, read_summary
from harness.results import FAILED, PASSED, ExchangeRecord, StepRecord, TestRecord, body_evidence


def test_results_are_on_disk_after_each_test_and_marked_complete_at_the_end(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path, {"started": "2026-01-01T00:00:00+00:00", "dut": {"url": "https://127.0.0.1:1"}})
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["tests"] == [] and on_disk["run"]["complete"] is False
    writer.add(TestRecord(id="CORE-001", title="HTTP Request", role="server", verdict=PASSED))
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert [t["id"] for t in on_disk["tests"]] == ["CORE-001"] and on_disk["summary"]["passed"] == 1
    writer.add(TestRecord(id="CORE-004", title="List Handling", role="server", verdict=FAILED,
                          reason="step 6 '?l=0': resource.results: expected 0, saw 3",
                          steps=[StepRecord(index=6, name="?l=0", verdict=FAILED)]))
    document = writer.finish(0.0)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(document))
    assert on_disk["run"]["complete"] is True and on_disk["summary"]["failed"] == 1 and on_disk["summary"]["total"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_html_is_self_contained_and_escapes_what_the_dut_sent(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path, {"dut": {"url": "https://127.0.0.1:1", "role": "server"}})
    writer.add(TestRecord(id="CORE-005", title="Basic Time", role="server", verdict=FAILED,
                          reason="resource.quality: expected 7, saw '<script>alert(1)</script>'"))
    html = render_html(writer.finish(0.0))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "src=" not in html and "<link" not in html
    path = write_html(writer.document(), tmp_path / "report.html")
    assert '<div class="card failed"><span class="num">1</span>failed</div>' in path.read_text()


def test_a_reused_directory_loses_the_earlier_runs_exchanges_and_seal(tmp_path: Path) -> None:
    stale = tmp_path / "exchanges" / "CORE-001" / "9-1.http"
    stale.parent.mkdir(parents=True)
    stale.write_text("GET /from-an-earlier-run HTTP/1.1\n")
    (tmp_path / "MANIFEST.sha256").write_text(f"{'0' * 64}  results.json\n")
    ResultsWriter(tmp_path, {"started": "2026-01-01T00:00:00+00:00"})
    assert not (tmp_path / "exchanges").exists() and not (tmp_path / "MANIFEST.sha256").exists()


def test_results_json_is_the_text_json_gives_for_the_whole_document(tmp_path: Path) -> None:
    # The writer keeps each test as text and writes the file piece by piece; a reader sees what
    # json.dumps(document, indent=1) gives, with bodies, quotes, non-ASCII text and nested lists intact.
    writer = ResultsWriter(tmp_path, {"started": "2026-01-01T00:00:00+00:00", "dut": {"url": "https://127.0.0.1:1"}})
    assert (tmp_path / "results.json").read_text() == json.dumps(writer.document(), indent=1, default=str)
    body = body_evidence('<Time xmlns="urn:ieee:std:2030.5:ns">\n <note>é "quoted"</note>\n</Time>'.encode())
    exchange = ExchangeRecord(method="GET", url="https://127.0.0.1:1/tm", request_headers=[("accept", "x")],
                              request_body=body_evidence(b""), started=1.7e9, elapsed_s=0.25, status=200,
                              response_body=body)
    writer.add(TestRecord(id="CORE-005", title="Basic Time", role="server", verdict=PASSED, duration_s=1.5,
                          steps=[StepRecord(index=1, name="GET Time", verdict=PASSED, exchanges=[exchange],
                                            observed={"waited_s": 1.0, "list": [[], {}, [1, {"a": None}]]})]))
    writer.add({"id": "CORE-001", "title": "HTTP Request", "role": "server", "verdict": FAILED, "steps": []})
    text = (tmp_path / "results.json").read_text()
    assert text == json.dumps(writer.document(), indent=1, default=str)
    assert json.loads(text)["tests"][0]["steps"][0]["exchanges"][0]["response_body"] == body
    split = writer.timing(1767225600.0 + 10)
    assert (split.tests, split.tests_s, split.dut_s, split.waits_s) == (2, 1.5, 0.25, 1.0)


def test_a_test_added_after_the_end_keeps_the_earlier_ones(tmp_path: Path) -> None:
    # finish() leaves the tests' texts in results.json; a later change takes them back first.
    writer = ResultsWriter(tmp_path, {"started": "2026-01-01T00:00:00+00:00"})
    writer.add(TestRecord(id="CORE-001", title="HTTP Request", role="server", verdict=PASSED))
    finished = writer.finish(0.0)
    assert writer.document() == finished and [t["id"] for t in writer.tests] == ["CORE-001"]
    writer.add(TestRecord(id="CORE-004", title="List Handling", role="server", verdict=FAILED))
    text = (tmp_path / "results.json").read_text()
    assert [t["id"] for t in json.loads(text)["tests"]] == ["CORE-001", "CORE-004"]
    assert text == json.dumps(writer.document(), indent=1, default=str)
    assert [t["id"] for t in writer.finish(1.0)["tests"]] == ["CORE-001", "CORE-004"]


def test_the_summary_is_read_without_the_tests(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path, {"started": "2026-01-01T00:00:00+00:00"})
    assert read_summary(tmp_path / "results.json")["total"] == 0
    writer.add(TestRecord(id="CORE-001", title="HTTP Request", role="server", verdict=PASSED))
    writer.add(TestRecord(id="CORE-004", title="List Handling", role="server", verdict=FAILED))
    document = writer.finish(0.0)
    assert read_summary(tmp_path / "results.json") == document["summary"] == {**document["summary"], "failed": 1}
    # A file laid out otherwise (on one line, tests first) is read whole; one that is not a document says so.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"tests": document["tests"], **{k: v for k, v in document.items() if k != "tests"}}))
    assert read_summary(other) == document["summary"]
    other.write_text('{"tests": []}')
    with pytest.raises(ValueError, match="expected a results document with a summary"):
        read_summary(other)
