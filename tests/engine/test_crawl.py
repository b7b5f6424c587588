"""The `crawl` step against DUTs on real TLS sockets: bounds, cycles, other origins, hostile answers, methods.

Each DUT here is a small HTTP/1.1 server over mutual TLS on 127.0.0.1 whose answers a test writes as a function
of method and path, so a tree can be endless, loop on itself, lie about its lists or answer garbage.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.pki import TestPki
from harness.results import ERROR, FAILED, PASSED
from harness.sep.tls import server_context
from harness.session import HarnessSession, RunOptions
from tests.scripted_dut import LoopbackTlsServer

NS = "urn:ieee:std:2030.5:ns"
XML = "application/sep+xml"
# method, path, query -> status, headers, body
Handler = Callable[[str, str, str], tuple[int, list[tuple[str, str]], bytes]]


def ok(body: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", XML)], body.encode()


def not_allowed(method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return 405, [("Allow", "GET, HEAD")], b""


class TreeDut(LoopbackTlsServer):
    """HTTP/1.1 with persistent connections over mutual TLS; answers come from handler. Records every request."""

    def __init__(self, context: ssl.SSLContext, handler: Handler, delay: float = 0.0) -> None:
        super().__init__(context, "tree-dut")
        self.handler = handler
        self.delay = delay
        self.requests: list[tuple[str, str]] = []

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        with contextlib.suppress(OSError), connection, self._context.wrap_socket(connection, server_side=True) as tls:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                               if line.lower().startswith("content-length:")), 0)
                while len(buffer) < length:
                    buffer += tls.recv(65536)
                buffer = buffer[length:]
                path, _, query = target.partition("?")
                self.requests.append((method, target))
                time.sleep(self.delay)
                status, headers, body = self.handler(method, path, query)
                shown = b"" if method == "HEAD" else body
                lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers),
                         f"Content-Length: {len(body)}"]
                tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + shown)

    def gets(self, path: str) -> int:
        """How many GETs of path (any query) the DUT answered."""
        return sum(1 for method, target in self.requests if method == "GET" and target.split("?")[0] == path)


HEAD = """\
id: LAB-040
title: crawl
role: server
procedure: {doc: d, version: '1'}
steps:
"""


def run(pki: TestPki, dut: TreeDut, tmp_path: Path, crawl: str, profile: str = "role: server\n") -> tuple[str, dict]:
    """Run one crawl step (its YAML mapping under `crawl:`) against dut: the verdict and the step's results."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    case = tmp_path / "LAB-040.yaml"
    case.write_text(HEAD + "  - name: crawl the tree\n    crawl:\n" + textwrap.indent(textwrap.dedent(crawl), "      "))
    (tmp_path / "dut.yaml").write_text(profile)
    client = pki.clients["client"]
    out = tmp_path / "out"
    session = HarnessSession(RunOptions(dut=dut.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
                                        profile=str(tmp_path / "dut.yaml"), out=str(out)))
    try:
        record = session.run(load_case(case))
    finally:
        session.close()
    results = json.loads((out / "results.json").read_text())
    return record.verdict, results["tests"][0]["steps"][0] | {"reason": record.reason}


@pytest.fixture
def tls(pki: TestPki) -> ssl.SSLContext:
    return server_context(pki.server.cert, pki.server.key, pki.ca)


def dcap(*links: str) -> str:
    return f'<DeviceCapability xmlns="{NS}" href="/dcap" pollRate="900">{"".join(links)}</DeviceCapability>'


def endless(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """DeviceCapability, an EndDeviceList of a million EndDevices (as many items as l= asks), each linking two
    lists: far more than any bound."""
    if method not in ("GET", "HEAD"):
        return not_allowed(method)
    if path == "/dcap":
        return ok(dcap('<EndDeviceListLink href="/edev" all="1000000"/>'))
    if path == "/edev":
        limit = int(dict(p.split("=") for p in query.split("&")).get("l", "1"))
        items = "".join(f'<EndDevice href="/edev/{n}"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>'
                        for n in range(limit))
        return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="1000000" results="{limit}">{items}</EndDeviceList>')
    if path.endswith(("/lel", "/der")):
        tag = "LogEventList" if path.endswith("/lel") else "DERList"
        return ok(f'<{tag} xmlns="{NS}" href="{path}" all="0" results="0"/>')
    return ok(f'<EndDevice xmlns="{NS}" href="{path}"><DERListLink href="{path}/der" all="0"/>'
              f'<LogEventListLink href="{path}/lel" all="0"/><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>')


def test_an_endless_tree_stops_at_max_resources_with_a_warning_not_a_failure(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    with TreeDut(tls, endless) as dut:
        verdict, step = run(pki, dut, tmp_path, "max_resources: 7\nevidence: all\n")
        assert len([r for r in dut.requests if r[0] == "GET"]) == 7
    assert verdict == PASSED, step["reason"]
    assert len(step["exchanges"]) == 7  # evidence: all keeps every exchange, not only the start and the failures
    assert step["observed"]["reached"] == 7 and step["observed"]["bound"] == "max_resources (7)"
    [bound] = [f for f in step["findings"] if f["kind"] == "crawl"]
    assert bound["severity"] == "warning" and bound["message"].startswith("the crawl stopped at max_resources (7) with")


def test_a_slow_dut_stops_the_crawl_at_max_seconds(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    with TreeDut(tls, endless, delay=0.2) as dut:
        started = time.perf_counter()
        verdict, step = run(pki, dut, tmp_path, "max_seconds: 0.5\n")
        took = time.perf_counter() - started
    assert verdict == PASSED, step["reason"]
    assert step["observed"]["bound"] == "max_seconds (0.5 s)"
    assert 2 <= step["observed"]["reached"] <= 5 and took < 10


def test_link_loops_are_read_once_each(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    def loop(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return not_allowed(method)
        if path == "/dcap":
            # The same list twice, once by an absolute URL on the DUT's own origin, and a link back to /dcap.
            return ok(dcap('<EndDeviceListLink href="/edev" all="1"/>',
                           f'<SelfDeviceLink href="https://127.0.0.1:{dut.port}/edev"/>'))
        if path == "/edev":
            return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="2" results="2">'
                      f'<EndDevice href="/edev/1"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>'
                      f'<EndDevice href="/edev/1"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>'
                      f'</EndDeviceList>')
        return ok(f'<EndDevice xmlns="{NS}" href="/edev/1"><ConfigurationLink href="/dcap"/>'
                  f'<DERListLink href="/edev/1#again" all="0"/><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>')

    with TreeDut(tls, loop) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [HEAD]\n")
        assert dut.gets("/dcap") == 1 and dut.gets("/edev") == 1 and dut.gets("/edev/1") == 1
    assert verdict == PASSED, step["reason"]
    assert [r["href"] for r in step["observed"]["resources"]] == ["/dcap", "/edev", "/edev/1"]


def test_a_link_to_another_origin_is_not_followed_and_is_a_warning(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    with TreeDut(tls, endless) as other:
        def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
            if method != "GET":
                return not_allowed(method)
            return ok(dcap('<TimeLink href="http://127.0.0.1:9/tm"/>',
                           f'<EndDeviceListLink href="https://127.0.0.1:{other.port}/edev" all="0"/>'))

        with TreeDut(tls, answer) as dut:
            verdict, step = run(pki, dut, tmp_path, "{}\n")
        assert other.requests == []
    assert verdict == PASSED, step["reason"]
    assert [n["href"] for n in step["observed"]["not_followed"]] == ["http://127.0.0.1:9/tm",
                                                                      f"https://127.0.0.1:{other.port}/edev"]
    warnings = [f["message"] for f in step["findings"] if f["kind"] == "crawl"]
    assert warnings[1] == (f"EndDeviceListLink 'https://127.0.0.1:{other.port}/edev' in DeviceCapability /dcap is not "
                           f"on the DUT's origin (https://127.0.0.1:{dut.port}): not followed")


def test_garbage_deep_in_the_tree_fails_naming_the_resource_and_its_link(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return not_allowed(method)
        if path == "/dcap":
            return ok(dcap('<TimeLink href="/tm"/>', '<EndDeviceListLink href="/edev" all="1"/>'))
        if path == "/tm":
            return 200, [("Content-Type", "text/html")], b"<html>\x00\xff not a Time"
        return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="1" results="1"><EndDevice href="/edev/1">'
                  f'<sFDI>0</sFDI><changedTime>0</changedTime></EndDevice></EndDeviceList>' if path == "/edev" else
                  f'<EndDevice xmlns="{NS}" href="/edev/1"><sFDI>12</sFDI></EndDevice>')

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "{}\n")
    assert verdict == FAILED
    paths = [m["path"] for m in step["mismatches"]]
    assert "GET Time /tm (TimeLink of DeviceCapability /dcap): headers.Content-Type" in paths
    # The EndDevice misses its required changedTime: schema-invalid, named with the list it was an item of.
    assert any(p.startswith("GET EndDevice /edev/1 (item of EndDeviceList /edev): schema") for p in paths), paths
    assert "Content-Type" in step["reason"] and "text/html" in step["reason"]
    # The failing exchanges are kept as evidence, the passing ones summarised.
    kept = {e["url"].split("?")[0].removeprefix(dut.base_url) for e in step["exchanges"]}
    assert kept == {"/dcap", "/tm", "/edev/1"}


def test_a_huge_list_is_read_bounded_and_only_list_items_are_followed(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return not_allowed(method)
        if path == "/dcap":
            return ok(dcap('<EndDeviceListLink href="/edev" all="5000"/>', '<MirrorUsagePointListLink href="/mup" '
                           'all="1"/>'))
        if path == "/edev":  # ignores l= and sends every one of 5000 items
            items = "".join(f'<EndDevice href="/edev/{n}"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>'
                            for n in range(5000))
            return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="5000" results="5000">{items}</EndDeviceList>')
        if path == "/mup":  # more than the profile's max_body
            return ok(f'<MirrorUsagePointList xmlns="{NS}" href="/mup" all="1" results="1">'
                      + "<!--" + "x" * 600_000 + "-->" + "</MirrorUsagePointList>")
        return ok(f'<EndDevice xmlns="{NS}" href="{path}"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>')

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "list_items: 3\n", profile="role: server\nmax_body: 500000\n")
        assert ("GET", "/edev?s=0&l=3") in dut.requests
        assert sorted(t for m, t in dut.requests if t.startswith("/edev/")) == ["/edev/0", "/edev/1", "/edev/2"]
    assert verdict == FAILED
    assert ("GET EndDeviceList /edev (EndDeviceListLink of DeviceCapability /dcap): asked for at most 3 items (l=), "
            "saw 5000; only the first 3 are followed") in [f["message"] for f in step["findings"]]
    assert step["reason"].startswith("step 1 'crawl the tree': GET MirrorUsagePointList /mup "
                                     "(MirrorUsagePointListLink of DeviceCapability /dcap): expected a complete "
                                     "response, saw expected a body of at most 500000 bytes")


def wrong_methods(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Time answers HEAD 404, accepts DELETE, refuses POST without an Allow header and answers FOO 400 (no Error)."""
    if path == "/dcap":
        if method in ("GET", "HEAD"):
            return ok(dcap('<TimeLink href="/tm"/>'))
        return (501, [], b"") if method == "FOO" else not_allowed(method)
    answers = {
        "GET": ok(f'<Time xmlns="{NS}" href="/tm"><currentTime>0</currentTime><dstEndTime>0</dstEndTime>'
                  f'<dstOffset>0</dstOffset><dstStartTime>0</dstStartTime><quality>7</quality><tzOffset>0</tzOffset>'
                  f'</Time>'),
        "HEAD": (404, [], b""),
        "PUT": (204, [], b""),
        "POST": (405, [], b""),
        "DELETE": (204, [], b""),
    }
    return answers.get(method, (400, [("Content-Type", "text/plain")], b"what?"))


def test_methods_are_judged_by_the_wadl_on_every_resource(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    with TreeDut(tls, wrong_methods) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [HEAD, PUT, POST, DELETE, FOO]\n")
        # PUT on Time is discouraged, not an error, in the 2030.5 WADL: a conforming server may accept it, so the
        # crawl never sends it (on DeviceCapability, where it is an error, it does).
        assert ("PUT", "/dcap") in dut.requests and ("PUT", "/tm") not in dut.requests
    assert verdict == FAILED
    problems = {m["path"]: (m["expected"], m["seen"]) for m in step["mismatches"]}
    where = "Time /tm (TimeLink of DeviceCapability /dcap)"
    assert problems == {
        f"HEAD {where}": ("200 (HEAD is mandatory wherever GET is, 2030.5 WADL)", "404"),
        f"DELETE {where}": ("405 (the 2030.5 WADL marks DELETE on Time an error)", "204"),
        f"FOO {where}": ("501 (an unknown method token)", "400 with text/plain (5 bytes)"),
    }
    warnings = [f["message"] for f in step["findings"]]
    # Allow is a warning unless the case requires it; a 4xx body that is not an Error is a warning.
    assert (f"POST {where}: should send an Allow header listing GET and not POST (RFC 9110 15.5.6), saw absent"
            in warnings)
    assert any(w.startswith(f"FOO {where}: a 400 body should be a 2030.5 Error") for w in warnings)
    summary = step["observed"]["resources"][1]
    assert summary == {"href": "/tm", "resource": "Time", "from": "TimeLink of DeviceCapability /dcap", "GET": 200,
                       "HEAD": 404, "POST": 405, "DELETE": 204, "FOO": 400}


def test_allow_required_fails_a_405_without_it_and_unknown_status_widens_the_answer(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    with TreeDut(tls, wrong_methods) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [POST, FOO]\nallow: required\nunknown_status: [400, 501]\n")
    assert verdict == FAILED
    assert step["reason"] == ("step 1 'crawl the tree': POST Time /tm (TimeLink of DeviceCapability /dcap): expected "
                              "405 with an Allow header listing GET and not POST (RFC 9110 15.5.6), saw Allow absent")


def test_a_dut_that_drops_the_connection_is_an_error_naming_the_request(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/tm":
            raise OSError("the DUT hangs up")  # the server thread closes the connection without an answer
        return ok(dcap('<TimeLink href="/tm"/>'))

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "{}\n")
    assert verdict == ERROR
    assert step["reason"].startswith("step 1 'crawl the tree': the crawl could not go on: GET Time /tm (TimeLink of "
                                     "DeviceCapability /dcap): ")


@pytest.mark.parametrize(("crawl", "line", "message"), [
    ("schema: DeviceCapabilty\n", 8, "crawl.schema: 'DeviceCapabilty' is not a 2030.5 resource"),
    ("methods: [HEAD, OPTIONS]\n", 8, "crawl.methods: expected HEAD, PUT, POST, DELETE or an unknown token such as "
                                      "FOO, saw OPTIONS"),
    ("resources: {Time: {expect: {resource: {curentTime: 1}}}}\n", 8, "curentTime"),
    ("from: ${nowhere}\n", 8, "nowhere"),
    ("max_resources: 0\n", None, "max_resources"),
])
def test_a_crawl_written_wrong_is_a_load_error_with_its_line(tmp_path: Path, crawl: str, line: int | None,
                                                             message: str) -> None:
    case = tmp_path / "LAB-040.yaml"
    case.write_text(HEAD + "  - name: crawl the tree\n    crawl:\n" + textwrap.indent(crawl, "      "))
    with pytest.raises(CaseFileError) as caught:
        load_case(case)
    assert message in str(caught.value)
    if line is not None:
        assert f":{line}:" in str(caught.value) or f"line {line}" in str(caught.value), str(caught.value)


def test_a_crawl_step_has_no_expect_of_its_own(tmp_path: Path) -> None:
    case = tmp_path / "LAB-040.yaml"
    case.write_text(HEAD + "  - name: crawl the tree\n    crawl: {}\n    expect: {status: 200}\n")
    with pytest.raises(CaseFileError, match="a crawl step has no expect"):
        load_case(case)


def test_the_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    case = tmp_path / "LAB-040.yaml"
    case.write_text(HEAD + "  - name: crawl the tree\n    crawl: {}\n")
    spec = load_case(case).steps[0].crawl
    assert spec is not None
    assert (spec.start, spec.schema, spec.max_resources, spec.max_seconds, spec.list_items, spec.methods,
            spec.unknown_status, spec.allow, spec.evidence) == ("${dcap}", "DeviceCapability", 200, 60.0, 10, (),
                                                                (501,), "should", "failures")


def test_the_cases_own_checks_per_resource_fail_or_warn(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        return wrong_methods("GET", path, query) if method in ("GET", "HEAD") else not_allowed(method)

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, """\
            resources:
              Time: {expect: {resource: {quality: 3}}}
              DeviceCapability: {should: {resource: {pollRate: 60}}}
        """)
    assert verdict == FAILED
    assert step["reason"] == ("step 1 'crawl the tree': GET Time /tm (TimeLink of DeviceCapability /dcap): "
                              "resource.quality: expected 3, saw '7'")
    assert ("GET DeviceCapability /dcap (the crawl's start): should: resource.pollRate: expected 60, saw '900'"
            in [f["message"] for f in step["findings"]])


def test_a_head_whose_headers_differ_from_the_get_is_a_warning(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method == "HEAD":
            return 200, [("Content-Type", "text/xml")], b"xx"  # the server writes Content-Length: 2, sends no body
        return ok(dcap()) if method == "GET" else not_allowed(method)

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [HEAD]\n")
    assert verdict == PASSED, step["reason"]
    length = len(dcap().encode())
    assert [f["message"] for f in step["findings"]] == [
        "HEAD DeviceCapability /dcap (the crawl's start): should carry the GET's Content-Type 'application/sep+xml' "
        "(RFC 9110 9.3.2), saw 'text/xml'",
        f"HEAD DeviceCapability /dcap (the crawl's start): a Content-Length should be the GET's body length {length} "
        f"(RFC 9110 8.6), saw 2"]


def test_hrefs_that_lead_elsewhere_or_nowhere_are_not_followed(
    pki: TestPki, tls: ssl.SSLContext, tmp_path: Path
) -> None:
    hrefs = ["//127.0.0.2:9/edev/1", "urn:ieee:2030.5:nowhere", "http://127.0.0.1:9/edev/3", "/edev/4"]

    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return not_allowed(method)
        if path == "/dcap":
            return ok(dcap('<EndDeviceListLink href="/edev" all="4"/>'))
        if path == "/edev":
            items = "".join(f'<EndDevice href="{h}"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>'
                            for h in hrefs)
            return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="4" results="4">{items}</EndDeviceList>')
        return ok(f'<EndDevice xmlns="{NS}" href="{path}"><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>')

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "{}\n")
        assert [t for m, t in dut.requests] == ["/dcap", "/edev?s=0&l=10", "/edev/4"]
    assert verdict == PASSED, step["reason"]
    assert [n["href"] for n in step["observed"]["not_followed"]] == hrefs[:3]
    assert all(f["severity"] == "warning" for f in step["findings"])


def test_a_wadl_optional_method_the_dut_refuses_is_accepted(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/dcap":
            return ok(dcap('<ResponseSetListLink href="/rsps" all="0"/>',
                           '<MirrorUsagePointListLink href="/mup" all="1"/>')) if method in ("GET", "HEAD") else (
                not_allowed(method))
        if path == "/rsps":  # GET and HEAD are optional on a ResponseSetList: this DUT serves GET only
            return ok(f'<ResponseSetList xmlns="{NS}" href="/rsps" all="0" results="0"/>') if method == "GET" else (
                (501, [], b""))
        if path == "/mup":
            return ok(f'<MirrorUsagePointList xmlns="{NS}" href="/mup" all="1" results="1"><MirrorUsagePoint '
                      f'href="/mup/1"><mRID>01</mRID><roleFlags>00</roleFlags><serviceCategoryKind>0'
                      f'</serviceCategoryKind><status>1</status><deviceLFDI>00</deviceLFDI></MirrorUsagePoint>'
                      f'</MirrorUsagePointList>') if method in ("GET", "HEAD") else not_allowed(method)
        return 405, [("Allow", "PUT, POST, DELETE")], b""  # GET of a MirrorUsagePoint is optional

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [HEAD]\n")
    assert verdict == PASSED, step["reason"]
    resources = {r["href"]: r for r in step["observed"]["resources"]}
    assert resources["/rsps"]["HEAD"] == 501
    assert resources["/mup/1"]["GET"] == 405 and "optional" in resources["/mup/1"]["note"]


def test_a_dut_wrong_everywhere_cannot_flood_the_evidence(pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        return (400, [("Content-Type", "text/plain")], b"no") if method == "FOO" else endless(method, path, query)

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "max_resources: 230\nlist_items: 255\nmethods: [FOO]\n")
        assert len([r for r in dut.requests if r[0] == "FOO"]) == 230
    assert verdict == FAILED
    assert len(step["mismatches"]) == 200 and step["reason"].endswith("(and 195 more)")
    assert len(step["findings"]) == 202  # 200 warnings, the count of those left out, the bound
    assert step["findings"][-2]["message"] == ("the crawl records at most 200 failures, warnings and exchanges kept as "
                                               "evidence; left out: 30 failures, 30 warnings, 31 exchanges")
    assert len(step["exchanges"]) == 200  # the first GET, and the first 199 FOOs that failed


def test_a_resource_its_client_has_not_written_yet_may_be_missing(
        pki: TestPki, tls: ssl.SSLContext, tmp_path: Path) -> None:
    """A server links a DER's DERCapability and an EndDevice's DeviceStatus for the client to PUT; before it has, a
    GET finds nothing (404, or 204) and nothing schema-valid could be served: a warning, never a failure. A 404 on
    a resource the server itself provides still fails."""
    def answer(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return not_allowed(method)
        if path == "/dcap":
            return ok(dcap('<EndDeviceListLink href="/edev" all="1"/>'))
        end_device = ('<EndDevice href="/edev/1"><DERListLink href="/edev/1/der" all="1"/><DeviceStatusLink '
                      'href="/edev/1/dstat"/><sFDI>0</sFDI><changedTime>0</changedTime></EndDevice>')
        der = ('<DER href="/edev/1/der/1"><DERCapabilityLink href="/edev/1/der/1/dercap"/><DERSettingsLink '
               'href="/edev/1/der/1/derg"/></DER>')
        if path == "/edev":
            return ok(f'<EndDeviceList xmlns="{NS}" href="/edev" all="1" results="1">{end_device}</EndDeviceList>')
        if path == "/edev/1":
            return ok(end_device.replace("<EndDevice ", f'<EndDevice xmlns="{NS}" ', 1))
        if path == "/edev/1/der":
            return ok(f'<DERList xmlns="{NS}" href="/edev/1/der" all="1" results="1">{der}</DERList>')
        if path == "/edev/1/der/1":
            return ok(der.replace("<DER ", f'<DER xmlns="{NS}" ', 1))
        if path == "/edev/1/der/1/derg":
            return 204, [], b""
        return 404, [], b""  # DeviceStatus and DERCapability: not written by the client yet

    with TreeDut(tls, answer) as dut:
        verdict, step = run(pki, dut, tmp_path, "methods: [HEAD]\n")
    assert verdict == PASSED, step["reason"]
    resources = {r["href"]: r for r in step["observed"]["resources"]}
    assert resources["/edev/1/der/1/dercap"]["GET"] == 404 and "not yet" in resources["/edev/1/der/1/dercap"]["note"]
    assert resources["/edev/1/dstat"]["GET"] == 404 and resources["/edev/1/der/1/derg"]["GET"] == 204
    warned = [f["message"] for f in step["findings"] if "has not written yet" in f["message"]]
    assert len(warned) == 3, step["findings"]
    assert dut.requests.count(("HEAD", "/edev/1/dstat")) == 0  # nothing to apply methods to

    def lists_missing(method: str, path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/dcap" and method in ("GET", "HEAD"):
            return ok(dcap('<DERProgramListLink href="/derp" all="0"/>'))
        return 404 if method in ("GET", "HEAD") else 405, [], b""

    with TreeDut(tls, lists_missing) as dut:
        verdict, step = run(pki, dut, tmp_path / "server-provided", "{}\n")
    assert verdict == FAILED and "GET DERProgramList /derp" in step["reason"], step["reason"]
