"""The wire as it was: the HTTP version the DUT answered with is kept in results, raw exchanges and the report."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cases.loader import load_case
from harness.pki import TestPki
from harness.report.document import schema_errors
from harness.results import FAILED, PASSED
from harness.sep.tls import server_context
from harness.session import HarnessSession, RunOptions

from .scripted_dut import NS, ScriptedDut, response

DCAP = f'<DeviceCapability xmlns="{NS}" href="/dcap" pollRate="900"><TimeLink href="/tm"/></DeviceCapability>'

CASE = """\
id: LAB-010
title: DeviceCapability
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200, schema: DeviceCapability}
"""


def run_one(pki: TestPki, dut: ScriptedDut, dcap: str, tmp_path: Path) -> tuple[str, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "LAB-010.yaml").write_text(CASE)
    profile = tmp_path / "dut.yaml"
    profile.write_text(f"role: server\ndcap: {dcap}\nmax_body: 1024\n")
    client = pki.clients["client"]
    out = tmp_path / "out"
    session = HarnessSession(RunOptions(dut=dut.base_url, cert=str(client.cert), key=str(client.key),
                                        ca=str(pki.ca), profile=str(profile), out=str(out)))
    try:
        verdict = session.run(load_case(tmp_path / "LAB-010.yaml")).verdict
    finally:
        session.close()
    return verdict, out


def test_the_http_version_the_dut_answered_with_is_recorded_everywhere(pki: TestPki, tmp_path: Path) -> None:
    routes = {"/dcap10": response(DCAP, version="HTTP/1.0"), "/dcap11": response(DCAP),
              "/big10": response(DCAP + " " * 2048, version="HTTP/1.0")}
    with ScriptedDut(server_context(pki.server.cert, pki.server.key, pki.ca), routes) as dut:
        runs = {path: run_one(pki, dut, path, tmp_path / path.strip("/")) for path in routes}
    for path, version, verdict in (("/dcap10", "HTTP/1.0", PASSED), ("/dcap11", "HTTP/1.1", PASSED),
                                   ("/big10", "HTTP/1.0", FAILED)):
        seen, out = runs[path]
        assert seen == verdict, path
        document = json.loads((out / "results.json").read_text())
        assert schema_errors(document) == []
        [exchange] = document["tests"][0]["steps"][0]["exchanges"]
        assert exchange["http_version"] == version and exchange["status"] == 200
        raw = (out / exchange["evidence"]).read_text()
        # The request line is what the harness sent (always HTTP/1.1); the status line is what came back.
        assert f"\nGET {path} HTTP/1.1\n" in raw and f"\n{version} 200 OK\n" in raw
        assert ("HTTP/1.1 200" in raw) == (version == "HTTP/1.1")
        html = (out / "report.html").read_text()
        assert f"<pre>{version} 200\ncontent-type: application/sep+xml" in html
        assert (f"→ 200 ({version})" in html) == (version != "HTTP/1.1")
    assert runs["/big10"][1].joinpath("results.json").read_text().count('"error_kind": "too-large"') == 1


def test_a_results_file_without_http_version_still_loads_and_renders(pki: TestPki, tmp_path: Path) -> None:
    with ScriptedDut(server_context(pki.server.cert, pki.server.key, pki.ca), {"/dcap": response(DCAP)}) as dut:
        _, out = run_one(pki, dut, "/dcap", tmp_path)
    document = json.loads((out / "results.json").read_text())
    for test in document["tests"]:
        for step in test["steps"]:
            for exchange in step["exchanges"]:
                del exchange["http_version"]  # as written by a format-3 harness before the field existed
    assert schema_errors(document) == []
    from harness.report.evidence import exchange_text
    from harness.report.html import render_html

    exchange = document["tests"][0]["steps"][0]["exchanges"][0]
    assert "# the response's HTTP version was not recorded\nHTTP/? 200 OK" in exchange_text("LAB-010", 1, 1, exchange)
    assert "<pre>200\ncontent-type" in render_html(document)
