"""The client certificate goes only to origins the user named: a DUT's link to another host is never followed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.cases.profile import ProfileError, load_profile
from harness.pki import TestPki
from harness.report.document import schema_errors
from harness.results import ERROR, PASSED
from harness.sep.tls import client_context, server_context
from harness.session import HarnessSession, RunOptions
from harness.transport.base import FOREIGN_HOST, Request
from harness.transport.http import HttpTransport, origin

from .scripted_dut import NS, ScriptedDut, response

CASE = """\
id: LAB-030
title: Follow the EndDeviceListLink
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200}
    save: {edev: EndDeviceListLink.href}
  - name: GET the EndDeviceList it links
    request: {method: GET, path: "${edev}"}
    expect: {status: 200}
"""
EDEV_LIST = f'<EndDeviceList xmlns="{NS}" href="/edev" all="0" results="0"/>'


def dcap_linking(url: str) -> bytes:
    return response(f'<DeviceCapability xmlns="{NS}" href="/dcap" pollRate="900">'
                    f'<EndDeviceListLink href="{url}" all="0"/></DeviceCapability>')


def run_case(pki: TestPki, dut: ScriptedDut, tmp_path: Path, profile_text: str) -> tuple[str, dict, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "LAB-030.yaml").write_text(CASE)
    (tmp_path / "dut.yaml").write_text(profile_text)
    client = pki.clients["client"]
    out = tmp_path / "out"
    session = HarnessSession(RunOptions(dut=dut.base_url, cert=str(client.cert), key=str(client.key),
                                        ca=str(pki.ca), profile=str(tmp_path / "dut.yaml"), out=str(out),
                                        http_url="http://127.0.0.1:9"))
    try:
        verdict = session.run(load_case(tmp_path / "LAB-030.yaml")).verdict
    finally:
        session.close()
    return verdict, json.loads((out / "results.json").read_text()), out


def test_a_link_to_another_host_is_not_followed_and_that_host_sees_nothing(pki: TestPki, tmp_path: Path) -> None:
    tls = server_context(pki.server.cert, pki.server.key, pki.ca)
    with ScriptedDut(tls, {"/edev": response(EDEV_LIST)}) as other, ScriptedDut(tls, {}) as dut:
        foreign = f"https://127.0.0.1:{other.port}/edev"
        dut.routes["/dcap"] = dcap_linking(foreign)
        verdict, results, out = run_case(pki, dut, tmp_path / "refused", "role: server\n")
        assert other.connections == 0 and other.requests == []  # not a TCP connection, let alone a certificate

        allowed = f"role: server\ntls: {{allowed_origins: ['https://127.0.0.1:{other.port}']}}\n"
        verdict_allowed, results_allowed, _ = run_case(pki, dut, tmp_path / "allowed", allowed)
        assert other.connections == 1 and other.requests == ["/edev"]

    assert verdict == ERROR
    test = results["tests"][0]
    step = test["steps"][1]
    [exchange] = step["exchanges"]
    assert exchange["error_kind"] == FOREIGN_HOST and exchange["status"] is None and exchange["url"] == foreign
    target = f"https://127.0.0.1:{other.port}"
    # The message names the URL, why it was not followed and how to allow it; it is the step's and the test's.
    assert exchange["error"] == (
        f"foreign-host refused: {foreign} was not requested: its origin {target} is not one named for this run "
        f"(http://127.0.0.1:9, {dut.base_url}), and the harness connects, and presents its client certificate, "
        f"only to origins the user named. If the DUT really serves this resource there, name the origin with "
        f"tls: {{allowed_origins: ['{target}']}} in the DUT profile")
    assert step["verdict"] == "error" and exchange["error"] in step["message"] and test["reason"] == step["message"]
    assert results["run"]["tls"]["allowed_origins"] == ["http://127.0.0.1:9", dut.base_url]
    raw = (out / exchange["evidence"]).read_text()
    assert "# request NOT sent (refused before connecting)" in raw and "# response received" not in raw
    assert f"# transport foreign-host: {exchange['error']}" in raw
    html = (out / "report.html").read_text()
    assert f"GET {foreign} → foreign-host" in html
    assert f'<th>Requests only to</th><td class="mono">http://127.0.0.1:9, {dut.base_url}</td>' in html
    assert schema_errors(results) == []

    assert verdict_allowed == PASSED
    assert results_allowed["run"]["tls"]["allowed_origins"] == sorted(["http://127.0.0.1:9", dut.base_url, target])


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{other}/edev",  # same host, another port
        "http://127.0.0.1:{dut}/edev",  # same host and port, another scheme
        "https://127.0.0.1:{dut}@127.0.0.1:{other}/edev",  # userinfo that looks like the DUT
        "https://127.0.0.1:{dut}\\@127.0.0.1:{other}/edev",  # a backslash parsers disagree on
        "https://localhost:{other}/edev",
        "ftp://127.0.0.1:{other}/edev",
        "/edev",  # not absolute: nothing says where it would go
    ],
)
async def test_the_transport_refuses_every_other_origin_before_connecting(pki: TestPki, url: str) -> None:
    tls = server_context(pki.server.cert, pki.server.key, pki.ca)
    client = pki.clients["client"]
    with ScriptedDut(tls, {"/edev": response(EDEV_LIST)}) as other, ScriptedDut(tls, {}) as dut:
        transport = HttpTransport(client_context(client.cert, client.key, pki.ca), allowed_origins=[dut.base_url])
        try:
            exchange = await transport.exchange(Request("GET", url.format(dut=dut.port, other=other.port)))
        finally:
            await transport.aclose()
        assert exchange.error_kind == FOREIGN_HOST and exchange.response is None, exchange.error
        assert exchange.error.startswith("foreign-host refused: ") and "was not requested" in exchange.error
        assert other.connections == 0 and dut.connections == 0


async def test_the_allowed_origin_is_compared_normalised(pki: TestPki) -> None:
    tls = server_context(pki.server.cert, pki.server.key, pki.ca)
    client = pki.clients["client"]
    with ScriptedDut(tls, {"/edev": response(EDEV_LIST)}) as dut:
        transport = HttpTransport(client_context(client.cert, client.key, pki.ca),
                                  allowed_origins=[f"HTTPS://LOCALHOST:{dut.port}/"])
        try:
            exchange = await transport.exchange(Request("GET", f"https://localhost:{dut.port}/edev?s=0"))
        finally:
            await transport.aclose()
    assert exchange.ok and exchange.response is not None and exchange.response.status == 200
    assert origin("https://Example.COM/x") == "https://example.com:443" == origin("https://example.com:443")
    assert origin("http://[::1]/") == "http://[::1]:80"
    with pytest.raises(ValueError, match="expected an absolute http:// or https:// URL"):
        origin("mailto:someone@example.com")


def test_a_profile_names_origins_strictly(tmp_path: Path) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\ntls:\n  allowed_origins:\n    - https://edev.example:8443\n    - https://x/path\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.line == 5 and "tls/allowed_origins/1" in str(info.value)
    path.write_text("role: server\ntls: {allowed_origins: ['https://EDEV.example', 'http://edev.example:8080/']}\n")
    assert load_profile(path).allowed_origins == ("https://edev.example:443", "http://edev.example:8080")
