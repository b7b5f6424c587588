"""The test server over real mutual TLS on 127.0.0.1: identification by LFDI, the served tree and its status
codes, the request log with its findings, the two editions, and hostile clients that never take it down."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
from lxml import etree

from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.context import RunContext
from harness.paths import project_dir
from harness.pki import TestPki
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context
from harness.server.clientrun import ServerFiles, start_test_server
from harness.server.editions import EDITION_NEWER
from harness.server.testserver import UNKNOWN_CLIENT, TestServer
from harness.server.tree import ServedTree

TREE = project_dir("fixtures") / "trees" / "der-basic.yaml"
XML = {"Content-Type": MEDIA_TYPE_XML}


def files(pki: TestPki) -> ServerFiles:
    return ServerFiles(cert=pki.server.cert, key=pki.server.key, ca=pki.ca)


async def started(pki: TestPki, *, scale: float = 1.0, edition: str = "2018") -> RunContext:
    clock = Clock(scale)
    ctx = await start_test_server(DutProfile(role="client"), files(pki), clock, SchemaSet.bundled(),
                                  {"client": pki.clients["client"].cert, "other": pki.clients["other"].cert},
                                  edition=edition)
    ctx.test_server.serve(ServedTree.load(TREE, {**ctx.builtins, "now": int(clock.now())}, clock.now))
    return ctx


@pytest.fixture
async def ctx(pki: TestPki) -> AsyncIterator[RunContext]:
    context = await started(pki)
    yield context
    await context.test_server.close()


def client(pki: TestPki, name: str = "client") -> httpx.AsyncClient:
    pair = pki.identities[name]
    return httpx.AsyncClient(verify=client_context(pair.cert, pair.key, pki.ca), timeout=10)


def root_of(response: httpx.Response) -> etree._Element:
    return etree.fromstring(response.content)


async def test_known_client_walks_the_tree_with_valid_bodies(ctx: RunContext, pki: TestPki) -> None:
    server: TestServer = ctx.test_server
    schema = SchemaSet.bundled()
    async with client(pki) as http:
        for path in ("/dcap", "/edev", "/edev/1", "/edev/1/rg", "/edev/1/fsa", "/derp", "/derp/1", "/tm"):
            answer = await http.get(server.base_url + path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == MEDIA_TYPE_XML
            failures = [f.message for f in schema.validate(root_of(answer)) if f.severity == "failure"]
            assert failures == [], (path, failures)
        edev = root_of(await http.get(server.base_url + "/edev/1"))
    assert edev.findtext(f"{{{NS}}}lFDI") == ctx.builtins["device"]["lfdi"]
    assert int(edev.findtext(f"{{{NS}}}sFDI")) == ctx.builtins["device"]["sfdi"]
    assert [e.client for e in server.log] == ["client"] * 9
    assert server.log[0].path == "/dcap" and server.log[0].status == 200


async def test_unknown_certificate_gets_403_and_a_finding(ctx: RunContext, pki: TestPki) -> None:
    server: TestServer = ctx.test_server
    async with client(pki, "aggregator") as http:
        answer = await http.get(server.base_url + "/dcap")
    assert answer.status_code == 403
    entry = server.log[-1]
    assert entry.client == UNKNOWN_CLIENT and entry.lfdi
    assert "no identity of this run has" in entry.findings[0].message
    async with client(pki, "other") as http:  # a second known device is told apart from the DUT
        assert (await http.get(server.base_url + "/dcap")).status_code == 200
    assert server.log[-1].client == "other"


async def test_a_client_without_certificate_is_refused_and_the_server_goes_on(ctx: RunContext, pki: TestPki
                                                                                ) -> None:
    server: TestServer = ctx.test_server
    bare = ssl.create_default_context(cafile=str(pki.ca))
    async with httpx.AsyncClient(verify=bare, timeout=5) as http:
        with pytest.raises(httpx.HTTPError):
            await http.get(server.base_url + "/dcap")
    async with client(pki) as http:
        assert (await http.get(server.base_url + "/dcap")).status_code == 200


async def test_put_post_delete_status_codes_location_and_paging(ctx: RunContext, pki: TestPki) -> None:
    server: TestServer = ctx.test_server
    base = server.base_url
    status = (f'<DERStatus xmlns="{NS}" href="/edev/1/der/1/ders"><readingTime>{int(ctx.clock.now())}'
              "</readingTime></DERStatus>")
    response = (f'<Response xmlns="{NS}"><createdDateTime>{int(ctx.clock.now())}</createdDateTime>'
                f'<endDeviceLFDI>{ctx.builtins["device"]["lfdi"]}</endDeviceLFDI><status>1</status>'
                "<subject>C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1</subject></Response>")
    async with client(pki) as http:
        assert (await http.put(base + "/edev/1/der/1/ders", content=status, headers=XML)).status_code == 204
        assert (await http.get(base + "/edev/1/der/1/ders")).content.decode().count("readingTime") == 2
        created = [await http.post(base + "/rsps/1/rsp", content=response, headers=XML) for _ in range(3)]
        assert [c.status_code for c in created] == [201, 201, 201]
        locations = [c.headers["location"] for c in created]
        assert len(set(locations)) == 3 and all(loc.startswith("/rsps/1/rsp/") for loc in locations)
        page = root_of(await http.get(base + "/rsps/1/rsp?s=1&l=1"))
        assert (page.get("all"), page.get("results")) == ("3", "1")
        assert (await http.get(base + locations[0])).status_code == 200
        refused = await http.put(base + "/dcap", content=status, headers=XML)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
        assert (await http.get(base + "/nowhere")).status_code == 404
        assert (await http.post(base + "/rsps/1/rsp", content=b"", headers=XML)).status_code == 400


async def test_event_status_follows_the_servers_scaled_time(pki: TestPki) -> None:
    ctx = await started(pki, scale=0.01)
    server: TestServer = ctx.test_server
    try:
        start = int(ctx.clock.now()) + 100  # 100 server seconds: 1 real second at scale 0.01
        server.tree.add("/derp/1/derc/1", "DERControl", {
            "replyTo": "/rsps/1/rsp", "responseRequired": "03", "mRID": "C1" * 16, "description": "e1",
            "creationTime": start - 100, "interval": {"duration": 60, "start": start},
            "DERControlBase": {"opModMaxLimW": 50}}, "/derp/1/derc")
        async with client(pki) as http:
            first = root_of(await http.get(server.base_url + "/derp/1/derc/1"))
            await asyncio.sleep(1.2)
            later = root_of(await http.get(server.base_url + "/derp/1/derc/1"))
            now = int(root_of(await http.get(server.base_url + "/tm")).findtext(f"{{{NS}}}currentTime"))
        status = f"{{{NS}}}EventStatus/{{{NS}}}currentStatus"
        assert (first.findtext(status), later.findtext(status)) == ("0", "1")
        assert now >= start
        assert SchemaSet.bundled().is_valid(first)
    finally:
        await server.close()


async def test_body_findings_garbage_and_hostile_xml_never_stop_the_server(ctx: RunContext, pki: TestPki) -> None:
    server: TestServer = ctx.test_server
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<DERStatus xmlns="urn:ieee:std:2030.5:ns">&b;</DERStatus>')
    async with client(pki) as http:
        assert (await http.put(server.base_url + "/edev/1/der/1/ders", content=bomb, headers=XML)).status_code == 400
        assert server.log[-1].findings[0].kind == "parse"
        invalid = f'<DERStatus xmlns="{NS}"><nonsense>1</nonsense></DERStatus>'.encode()
        await http.put(server.base_url + "/edev/1/der/1/ders", content=invalid, headers=XML)
        assert any(f.kind == "schema" for f in server.log[-1].findings)
    host, port = server.base_url.removeprefix("https://").split(":")
    context = client_context(pki.clients["client"].cert, pki.clients["client"].key, pki.ca)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
    writer.write(b"\x00\x01 this is not HTTP\r\n\r\n")
    await writer.drain()
    assert (await reader.read(100)).startswith(b"HTTP/1.1 400")
    writer.close()
    # A flood of connections dropped mid-request, then a well-behaved request still gets its answer.
    for _ in range(50):
        reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
        writer.write(b"GET /dcap HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
        writer.transport.abort()
    async with client(pki) as http:
        assert (await http.get(server.base_url + "/dcap")).status_code == 200


async def test_a_body_in_the_newer_editions_shape_names_the_2018_equivalent(ctx: RunContext, pki: TestPki) -> None:
    server: TestServer = ctx.test_server
    newer = (f'<DERStatus xmlns="{NS}" schemaVer="2.2"><connectStatus><dateTime>1</dateTime><value>01</value>'
             f"</connectStatus><readingTime>1</readingTime></DERStatus>").encode()
    async with client(pki) as http:
        await http.put(server.base_url + "/edev/1/der/1/ders", content=newer, headers=XML)
    messages = [f.message for f in server.log[-1].findings if f.kind == "check"]
    assert any("connectStatus" in m and "newer edition" in m and "genConnectStatus" in m for m in messages)
    assert any("schemaVer" in m for m in messages)


async def test_a_run_in_the_newer_edition_says_what_it_cannot_validate(pki: TestPki) -> None:
    ctx = await started(pki, edition=EDITION_NEWER)
    server: TestServer = ctx.test_server
    try:
        newer = f'<DERStatus xmlns="{NS}" schemaVer="2.2"><readingTime>1</readingTime></DERStatus>'.encode()
        older = (f'<DERStatus xmlns="{NS}"><genConnectStatus><dateTime>1</dateTime><value>01</value>'
                 "</genConnectStatus><readingTime>1</readingTime></DERStatus>").encode()
        async with client(pki) as http:
            await http.put(server.base_url + "/edev/1/der/1/ders", content=newer, headers=XML)
            assert any("bundled 2030.5-2018 schema only" in f.message for f in server.log[-1].findings)
            await http.put(server.base_url + "/edev/1/der/1/ders", content=older, headers=XML)
            assert any("calls it connectStatus" in f.message for f in server.log[-1].findings)
    finally:
        await server.close()
