"""The reference IEEE 2030.5 server over real sockets and mutual TLS: conformance, and every named defect."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki, make_test_pki
from harness.reference.defects import DEFECTS, UnknownDefectError, validate_defects
from harness.reference.process import ReferenceProcess, spawn_reference_server, start_reference_server
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.identity import certificate_der, has_valid_check_digit, lfdi, sfdi
from harness.sep.safexml import local_name, parse_xml
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
HEADERS = {"Content-Type": MEDIA_TYPE_XML}


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A CA, a server certificate, a registered "client" and an unregistered "other" certificate."""
    return make_test_pki(tmp_path_factory.mktemp("reference-pki"))


def seeded(pki: TestPki) -> dict[str, object]:
    """Start-up state for these tests: "client" pre-registered (PIN 111115), 3 more EndDevices, quality 7."""
    return {"preregister": [(pki.clients["client"].cert, 111115)], "extra_enddevices": 3, "time_quality": 7}


def tls_client(pki: TestPki, server: ReferenceProcess, name: str = "client") -> httpx.Client:
    """An httpx client over mutual TLS 1.2 presenting the named client certificate."""
    pair = pki.identities[name]
    context = client_context(pair.cert, pair.key, pki.ca)
    return httpx.Client(base_url=server.base_url, verify=context, timeout=5.0)


@pytest.fixture(scope="module")
def clean_server(reference_pki: TestPki) -> Iterator[ReferenceProcess]:
    """The reference server with no defects, the "client" certificate pre-registered."""
    with start_reference_server(reference_pki, **seeded(reference_pki)) as server:
        yield server


@pytest.fixture(scope="module")
def client(reference_pki: TestPki, clean_server: ReferenceProcess) -> Iterator[httpx.Client]:
    """A registered client of the clean server."""
    with tls_client(reference_pki, clean_server) as http:
        yield http


@pytest.fixture(scope="module")
def stranger(reference_pki: TestPki, clean_server: ReferenceProcess) -> Iterator[httpx.Client]:
    """A client whose certificate is valid but not registered on the clean server."""
    with tls_client(reference_pki, clean_server, "other") as http:
        yield http



def root_of(response: httpx.Response) -> etree._Element:
    """The parsed body of a response."""
    return parse_xml(response.content)


def text(root: etree._Element, path: str) -> str:
    """Text of the first descendant at a namespace-free path like 'EventStatus/currentStatus'."""
    found = root.find("/".join(Q + part for part in path.split("/")))
    assert found is not None, f"{local_name(root)} lacks {path}"
    return found.text or ""


def items(root: etree._Element, tag: str) -> list[etree._Element]:
    """The direct children of a list called tag."""
    return root.findall(Q + tag)


def server_now(http: httpx.Client) -> int:
    """The server's currentTime."""
    return int(text(root_of(http.get("/tm")), "currentTime"))


def raw_exchange(
    pki: TestPki, server: ReferenceProcess, payload: bytes, *, tls: bool = True, timeout: float = 5
) -> bytes:
    """Send bytes exactly as given on a fresh connection and return everything read until it closes."""
    port = server.https_port if tls else server.http_port
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        conn: socket.socket = sock
        if tls:
            pair = pki.clients["client"]
            conn = client_context(pair.cert, pair.key, pki.ca).wrap_socket(sock, server_hostname="127.0.0.1")
        conn.sendall(payload)
        chunks = []
        while True:
            try:
                data = conn.recv(65536)
            except (TimeoutError, ConnectionResetError, ssl.SSLError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def raw_status(reply: bytes) -> int:
    """The status code of a raw HTTP response."""
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply.split(b" ", 2)[1])


def get_request(path: str, host: str | None) -> bytes:
    """A GET request with the given Host header (None: no Host header at all)."""
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def client_end_device(http: httpx.Client, pki: TestPki, *, by: str = "lFDI") -> etree._Element:
    """The EndDevice of the "client" certificate, found in the full EndDeviceList by lFDI or sFDI."""
    der = certificate_der(pki.clients["client"].cert)
    wanted = lfdi(der) if by == "lFDI" else str(sfdi(der))
    listing = root_of(http.get("/edev", params={"l": 255}))
    for device in items(listing, "EndDevice"):
        found = device.find(Q + by)
        if found is not None and found.text == wanted:
            return device
    raise AssertionError(f"no EndDevice with {by} {wanted}")


# --- status codes and headers ----------------------------------------------------------------------


def test_dcap_is_served_with_headers_and_links(client: httpx.Client) -> None:
    response = client.get("/dcap")
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE_XML
    assert int(response.headers["content-length"]) == len(response.content)
    root = root_of(response)
    assert local_name(root) == "DeviceCapability"
    assert root.get("pollRate") == "900"
    links = {local_name(child): child.get("href") for child in root}
    assert links == {
        "DERProgramListLink": "/derp",
        "TimeLink": "/tm",
        "UsagePointListLink": "/upt",
        "EndDeviceListLink": "/edev",
        "MirrorUsagePointListLink": "/mup",
    }


def test_time_has_quality_7_and_consistent_fields(client: httpx.Client) -> None:
    root = root_of(client.get("/tm"))
    assert text(root, "quality") == "7"
    assert abs(int(text(root, "currentTime")) - time.time()) < 5
    assert text(root, "tzOffset") == "-18000"
    current, local = int(text(root, "currentTime")), int(text(root, "localTime"))
    start, end = int(text(root, "dstStartTime")), int(text(root, "dstEndTime"))
    in_dst = start <= current < end
    assert local == current - 18000 + (int(text(root, "dstOffset")) if in_dst else 0)


@pytest.mark.parametrize(
    "path",
    ["/edev", "/edev/1", "/edev/1/rg", "/edev/1/di", "/edev/1/ps", "/edev/1/fsa", "/edev/1/fsa/1",
     "/edev/1/der", "/edev/1/der/1", "/edev/1/der/1/dercap", "/edev/1/der/1/derg", "/edev/1/der/1/ders",
     "/edev/1/der/1/dera", "/edev/1/lel", "/edev/1/sub", "/derp", "/derp/1", "/derp/1/dderc",
     "/derp/1/derc", "/derp/1/derc/1", "/derp/1/dc", "/derp/1/dc/1", "/mup", "/upt", "/rsps/1/rsp"],
)
def test_every_resource_answers_get(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE_XML
    assert root_of(response).get("href") == path


def test_head_has_headers_but_no_body(client: httpx.Client) -> None:
    response = client.head("/dcap")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(client.get("/dcap").content)


def test_unknown_path_is_404(client: httpx.Client) -> None:
    assert client.get("/dcap/does-not-exist").status_code == 404
    assert client.get("/edev/999").status_code == 404
    assert client.get("/derp/1/derc/999").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/dcap", "GET, HEAD"),
        ("POST", "/dcap", "GET, HEAD"),
        ("DELETE", "/dcap", "GET, HEAD"),
        ("PUT", "/tm", "GET, HEAD"),
        ("POST", "/tm", "GET, HEAD"),
        ("DELETE", "/tm", "GET, HEAD"),
        ("POST", "/derp", "GET, HEAD"),
        ("PUT", "/edev", "GET, HEAD, POST"),
        ("POST", "/edev/1", "GET, HEAD, PUT, DELETE"),
    ],
)
def test_disallowed_method_is_405_with_allow(client: httpx.Client, method: str, path: str, allow: str) -> None:
    response = client.request(method, path, content=b"<x/>")
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_unknown_method_is_501(client: httpx.Client) -> None:
    assert client.request("FOO", "/dcap").status_code == 501
    assert client.request("FOO", "/derp").status_code == 501


@pytest.mark.parametrize("host", ["bad host", "127.0.0.1:99999", "[::1", "exa_mple.com", "256.1.1.1", "", "a..b"])
def test_malformed_host_is_400(reference_pki: TestPki, clean_server: ReferenceProcess, host: str) -> None:
    reply = raw_exchange(reference_pki, clean_server, get_request("/dcap", host))
    assert raw_status(reply) == 400
    assert b"<Error" in reply and b"<reasonCode>0</reasonCode>" in reply


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8443", "localhost", "[::1]:443", "dut.example.com"])
def test_wellformed_host_is_accepted(reference_pki: TestPki, clean_server: ReferenceProcess, host: str) -> None:
    assert raw_status(raw_exchange(reference_pki, clean_server, get_request("/dcap", host))) == 200


def test_missing_host_is_400(reference_pki: TestPki, clean_server: ReferenceProcess) -> None:
    assert raw_status(raw_exchange(reference_pki, clean_server, get_request("/dcap", None))) == 400


def test_plain_http_dcap_redirects_to_https(client: httpx.Client, clean_server: ReferenceProcess) -> None:
    response = httpx.get(clean_server.http_url + "/dcap", follow_redirects=False)
    assert response.status_code == 301
    location = response.headers["location"]
    assert location == f"https://127.0.0.1:{clean_server.https_port}/dcap"
    assert client.get(location).status_code == 200


def test_plain_http_other_paths_redirect_too(clean_server: ReferenceProcess) -> None:
    response = httpx.get(clean_server.http_url + "/edev?l=2", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith("/edev?l=2")


def test_unregistered_client_gets_403_except_dcap_and_time(stranger: httpx.Client) -> None:
    assert stranger.get("/dcap").status_code == 200
    assert stranger.get("/tm").status_code == 200
    for path in ("/edev", "/edev/1", "/derp", "/mup"):
        assert stranger.get(path).status_code == 403, path


def test_tls_without_client_certificate_is_refused(reference_pki: TestPki, clean_server: ReferenceProcess) -> None:
    context = client_context(None, None, reference_pki.ca)
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=context) as anonymous:
        anonymous.get(clean_server.base_url + "/dcap")


# --- identity (BASIC-001) --------------------------------------------------------------------------


def test_preregistered_identity_and_pin(client: httpx.Client, reference_pki: TestPki) -> None:
    der = certificate_der(reference_pki.clients["client"].cert)
    device = client_end_device(client, reference_pki)
    assert text(device, "sFDI") == str(sfdi(der))
    registration = root_of(client.get(device.find(Q + "RegistrationLink").get("href")))
    assert text(registration, "pIN") == "111115"


def test_synthetic_end_devices_have_valid_check_digits(clean_server: ReferenceProcess) -> None:
    # A device certificate sees only its own EndDevice, so the others are read through the admin interface.
    headers = {"Authorization": f"Bearer {clean_server.admin_token}"}
    state = httpx.get(f"{clean_server.admin_url}/admin/state", headers=headers).json()
    assert len(state["end_devices"]) >= 4
    assert all(has_valid_check_digit(device["sfdi"]) for device in state["end_devices"])


# --- list paging (CORE-004), on the client's own LogEventList: its EndDeviceList holds one item ---------

LOG_EVENTS = "/edev/1/lel"
_SEEDED: set[int] = set()


def log_event(created: int, event_id: int) -> bytes:
    """A LogEvent body created at created (TimeType), all of whose other values are valid."""
    return (
        f'<LogEvent xmlns="{NS}"><createdDateTime>{created}</createdDateTime><functionSet>0</functionSet>'
        f"<logEventCode>0</logEventCode><logEventID>{event_id}</logEventID><logEventPEN>0</logEventPEN>"
        "<profileID>0</profileID></LogEvent>"
    ).encode()


def seed_log_events(http: httpx.Client, server: ReferenceProcess) -> None:
    """Give the client's EndDevice four LogEvents, created in the past, once per server."""
    if server.https_port in _SEEDED:
        return
    now = int(time.time())
    for number in range(4):
        response = http.post(LOG_EVENTS, content=log_event(now - 1000 + 100 * number, number), headers=HEADERS)
        assert response.status_code in (200, 201), response.text
    _SEEDED.add(server.https_port)


@pytest.fixture(scope="module")
def full_list(client: httpx.Client, clean_server: ReferenceProcess) -> list[str]:
    """Hrefs of the whole LogEventList, in server order."""
    seed_log_events(client, clean_server)
    listing = root_of(client.get(LOG_EVENTS, params={"l": 255}))
    return [d.get("href") for d in items(listing, "LogEvent")]


def _page(client: httpx.Client, query: str) -> tuple[int, int, list[str]]:
    response = client.get(LOG_EVENTS + query)
    assert response.status_code == 200
    root = root_of(response)
    hrefs = [d.get("href") for d in items(root, "LogEvent")]
    assert int(root.get("results")) == len(hrefs)
    return int(root.get("all")), int(root.get("results")), hrefs


def test_log_event_list_order(client: httpx.Client, full_list: list[str]) -> None:
    listing = root_of(client.get(LOG_EVENTS, params={"l": 255}))
    created = [int(text(e, "createdDateTime")) for e in items(listing, "LogEvent")]
    assert len(created) == 4 and created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?s=0", [0]),
        ("", [0]),
        ("?a={now}", []),
        ("?l=0", []),
        ("?l=1000", "all"),
        ("?s=3&a={now}", []),
        ("?s=1&l=1&s=2", [1]),
        ("?l=0&l=2", []),
        ("?s=1&a={now}&a={tomorrow}", []),
        ("?l=1&b=2", [0]),
        ("?s=2&l=2", [2, 3]),
        ("?s=99", []),
        ("?a=0&l=2", [0, 1]),
    ],
)
def test_core_004_queries(client: httpx.Client, full_list: list[str], query: str, expected: object) -> None:
    now = server_now(client)
    all_count, _, hrefs = _page(client, query.format(now=now, tomorrow=now + 86400))
    assert all_count == len(full_list)
    wanted = full_list if expected == "all" else [full_list[i] for i in expected]  # type: ignore[union-attr]
    assert hrefs == wanted


@pytest.mark.parametrize("query", ["?s=x", "?l=-1", "?a=soon", "?s=", "?l=1.5"])
def test_malformed_list_query_is_400(client: httpx.Client, query: str) -> None:
    response = client.get("/edev" + query)
    assert response.status_code == 400
    assert local_name(root_of(response)) == "Error"


# --- writes ----------------------------------------------------------------------------------------

RESPONSE = f'<Response xmlns="{NS}"><endDeviceLFDI>{"AB" * 20}</endDeviceLFDI><status>1</status><subject>{"0" * 32}</subject></Response>'  # noqa: E501
SETTINGS = (
    f'<DERSettings xmlns="{NS}"><setGradW>50</setGradW><setMaxW><multiplier>0</multiplier><value>4000</value>'
    "</setMaxW><updatedTime>1700000000</updatedTime></DERSettings>"
)


def own_end_device(pki: TestPki, changed_time: int, *, declaration: bool = False) -> bytes:
    """An EndDevice body with the "client" certificate's sFDI and lFDI."""
    der = certificate_der(pki.clients["client"].cert)
    body = (f'<EndDevice xmlns="{NS}"><lFDI>{lfdi(der)}</lFDI><sFDI>{sfdi(der)}</sFDI>'
            f"<changedTime>{changed_time}</changedTime></EndDevice>")
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else b"") + body.encode()


def test_post_own_end_device_updates_it(client: httpx.Client, reference_pki: TestPki) -> None:
    before = root_of(client.get("/edev/1"))
    response = client.post("/edev", content=own_end_device(reference_pki, 1_000_000_000), headers=HEADERS)
    assert (response.status_code, response.headers["location"]) == (204, "/edev/1")
    assert text(root_of(client.get("/edev/1")), "changedTime") == "1000000000"
    assert root_of(client.get("/edev")).get("all") == "1"
    restore = own_end_device(reference_pki, int(text(before, "changedTime")))
    assert client.post("/edev", content=restore, headers=HEADERS).status_code == 204


def test_post_with_utf8_declaration_is_accepted(client: httpx.Client, reference_pki: TestPki) -> None:
    current = int(text(root_of(client.get("/edev/1")), "changedTime"))
    body = own_end_device(reference_pki, current, declaration=True)
    assert client.post("/edev", content=body, headers=HEADERS).status_code == 204


def test_post_response_then_get(client: httpx.Client) -> None:
    response = client.post("/rsps/1/rsp", content=RESPONSE.encode(), headers=HEADERS)
    assert response.status_code == 201
    stored = root_of(client.get(response.headers["location"]))
    assert text(stored, "status") == "1"
    assert root_of(client.get("/rsps/1/rsp")).get("all") == "1"


def test_put_der_settings_then_get(client: httpx.Client) -> None:
    assert client.put("/edev/1/der/1/derg", content=SETTINGS.encode(), headers=HEADERS).status_code == 204
    served = root_of(client.get("/edev/1/der/1/derg"))
    assert text(served, "setMaxW/value") == "4000"
    assert served.get("href") == "/edev/1/der/1/derg"


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><EndDevice>&x;</EndDevice>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0" encoding="ISO-8859-1"?><EndDevice/>',
        f'<Time xmlns="{NS}"/>'.encode(),
        b"<EndDevice><sFDI>1</sFDI><changedTime>1</changedTime></EndDevice>",  # no namespace
        f'<EndDevice xmlns="{NS}"><changedTime>1</changedTime><sFDI>1</sFDI></EndDevice>'.encode(),
        f'<EndDevice xmlns="{NS}"><sFDI>one</sFDI><changedTime>1</changedTime></EndDevice>'.encode(),
    ],
)
def test_broken_or_hostile_body_is_400(client: httpx.Client, body: bytes) -> None:
    response = client.post("/edev", content=body, headers=HEADERS)
    assert response.status_code == 400
    assert text(root_of(response), "reasonCode") == "0"
    assert local_name(root_of(response)) == "Error"
    assert client.get("/dcap").status_code == 200


def test_body_over_limit_is_413(reference_pki: TestPki, clean_server: ReferenceProcess) -> None:
    request = b"POST /edev HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n"
    assert raw_status(raw_exchange(reference_pki, clean_server, request)) == 413


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"\x00\xff garbage \r\n\r\n", b"GET /dcap HTTP/9.9\r\n\r\n", b"GET\r\n\r\n", b"GET /dcap HTTP/1.1\r\nHost"],
)
def test_server_survives_garbage(
    reference_pki: TestPki, clean_server: ReferenceProcess, client: httpx.Client, payload: bytes
) -> None:
    # An incomplete request gets no answer until the idle timeout; a short read timeout keeps this fast.
    reply = raw_exchange(reference_pki, clean_server, payload, timeout=1)
    assert reply == b"" or raw_status(reply) in (400, 505)
    raw_exchange(reference_pki, clean_server, payload, tls=False, timeout=1)
    # Raw bytes on the TLS port: a failed handshake must not take the listener down.
    with socket.create_connection(("127.0.0.1", clean_server.https_port), timeout=5) as sock:
        sock.sendall(payload)
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            sock.recv(1024)
    assert client.get("/dcap").status_code == 200
    assert httpx.get(clean_server.http_url + "/dcap").status_code == 301


def test_keep_alive_serves_many_requests_on_one_connection(
    reference_pki: TestPki, clean_server: ReferenceProcess
) -> None:
    request = b"GET /tm HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 3 + get_request("/dcap", "127.0.0.1")
    reply = raw_exchange(reference_pki, clean_server, request)
    assert reply.count(b"HTTP/1.1 200 OK") == 4


# --- schema ----------------------------------------------------------------------------------------


def _crawl(http: httpx.Client) -> dict[str, etree._Element]:
    seen: dict[str, etree._Element] = {}
    todo = ["/dcap"]
    while todo:
        href = todo.pop()
        if href in seen:
            continue
        response = http.get(href, params={"l": 255})
        assert response.status_code == 200, f"{href} answered {response.status_code}"
        seen[href] = root_of(response)
        todo += [e.get("href") for e in seen[href].iter() if e.get("href") and e.get("href") not in seen]
    return seen


def test_every_linked_resource_resolves(client: httpx.Client) -> None:
    resources = _crawl(client)
    assert {"/dcap", "/tm", "/edev", "/derp/1/dderc", "/derp/1/derc/1", "/derp/1/dc/1"} <= resources.keys()


def test_every_resource_is_schema_valid(client: httpx.Client) -> None:
    schema = SchemaSet.bundled()
    findings = {href: schema.validate(root) for href, root in _crawl(client).items()}
    assert {href: f for href, f in findings.items() if f} == {}


# --- defects ---------------------------------------------------------------------------------------


def test_unknown_defect_is_a_clear_error() -> None:
    with pytest.raises(UnknownDefectError, match="known defects: .*wrong-content-type"):
        validate_defects(["wrong-content-type", "no-such-defect"])
    result = subprocess.run(
        [sys.executable, "-m", "harness.reference", "--cert", "x", "--key", "x", "--ca", "x",
         "--defect", "no-such-defect"],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 2
    assert "no-such-defect" in result.stderr and "list-ignores-limit" in result.stderr


@pytest.fixture(scope="module")
def defect_servers(reference_pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    """One server per defect checked here, all started at once so the module stays fast."""
    servers = {
        name: spawn_reference_server(reference_pki, defects=[name], **seeded(reference_pki)) for name in DEFECT_CHECKS
    }
    try:
        for server in servers.values():
            server.wait_ready(60)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


Check = Callable[[httpx.Client, ReferenceProcess, TestPki], bool]


def _lel_page(http: httpx.Client, server: ReferenceProcess, query: str) -> tuple[etree._Element, list[str]]:
    """A page of the client's seeded LogEventList: the list and the hrefs of its items."""
    seed_log_events(http, server)
    root = root_of(http.get(LOG_EVENTS + query))
    return root, [e.get("href") for e in items(root, "LogEvent")]


def _full(http: httpx.Client, server: ReferenceProcess) -> list[str]:
    return _lel_page(http, server, "?l=255")[1]


def _dcap_invalid_control(http: httpx.Client, server: ReferenceProcess, pki: TestPki) -> bool:
    control = root_of(http.get("/derp/1/derc/1"))
    return control.find(Q + "mRID") is None


def _fsa_broken(http: httpx.Client, server: ReferenceProcess, pki: TestPki) -> bool:
    fsa = root_of(http.get("/edev/1/fsa/1"))
    return http.get(fsa.find(Q + "DERProgramListLink").get("href")).status_code == 404


def _post_response(http: httpx.Client) -> httpx.Response:
    return http.post("/rsps/1/rsp", content=RESPONSE.encode(), headers=HEADERS)


def _accepted(pki: TestPki, server: ReferenceProcess, name: str) -> bool:
    """Whether the server answers GET /dcap to a client presenting the named certificate (chain)."""
    try:
        with tls_client(pki, server, name) as http:
            return http.get("/dcap").status_code == 200
    except (httpx.HTTPError, ssl.SSLError):
        return False


def _handshake(server: ReferenceProcess, pki: TestPki, ciphers: str | None = None, *,
               certificate: bool = True) -> tuple[bool, bool]:
    """(whether a TLS 1.2 handshake completes, whether the server sent a CertificateRequest), seen on the wire."""
    from harness.transport.base import Request
    from harness.transport.tlsprobe import ESTABLISHED, probe

    pair = pki.clients["client"]
    context = client_context(pair.cert if certificate else None, pair.key if certificate else None, pki.ca)
    if ciphers:
        context.set_ciphers(ciphers)
    result = asyncio.run(probe(Request("GET", server.base_url + "/dcap"), context))
    tls = result.exchange.tls or {}
    return tls.get("outcome") == ESTABLISHED, bool(tls.get("client_certificate_requested"))


def _raw_host(host: str) -> Check:
    return lambda http, server, pki: raw_status(raw_exchange(pki, server, get_request("/dcap", host))) == 200


# Each check answers "does this server show the defect's misbehaviour?"; every defect is checked on
# its own server (expect True) and on the clean server (expect False), so each check discriminates.
DEFECT_CHECKS: dict[str, Check] = {
    "wrong-content-type": lambda http, s, p: http.get("/dcap").headers["content-type"] == "text/xml",
    "list-ignores-limit": lambda http, s, p: _lel_page(http, s, "?l=1")[0].get("results") != "1",
    "list-ignores-start": lambda http, s, p: _lel_page(http, s, "?s=1&l=1")[1] == _full(http, s)[:1],
    "list-last-param-wins": lambda http, s, p: len(_lel_page(http, s, "?l=0&l=2")[1]) == 2,
    "list-ignores-after": lambda http, s, p: len(_lel_page(http, s, f"?a={server_now(http)}")[1]) == 1,
    "list-wrong-all": lambda http, s, p: int(_lel_page(http, s, "?l=255")[0].get("all")) == len(_full(http, s)) + 1,
    "list-wrong-results": lambda http, s, p: _lel_page(http, s, "?l=2")[0].get("results") == "3",
    "dcap-missing-poll-rate": lambda http, s, p: root_of(http.get("/dcap")).get("pollRate") is None,
    "dcap-missing-time-link": lambda http, s, p: root_of(http.get("/dcap")).find(Q + "TimeLink") is None,
    "post-returns-200": lambda http, s, p: _post_response(http).status_code == 200,
    "post-missing-location": lambda http, s, p: "location" not in _post_response(http).headers,
    "time-off-by-hour": lambda http, s, p: abs(server_now(http) - time.time() - 3600) < 5,
    "time-wrong-quality": lambda http, s, p: text(root_of(http.get("/tm")), "quality") == "3",
    "unregistered-client-allowed": lambda http, s, p: tls_client(p, s, "other").get("/edev").status_code == 200,
    "invalid-dercontrol": _dcap_invalid_control,
    "wrong-lfdi": lambda http, s, p: text(client_end_device(http, p, by="sFDI"), "lFDI")
    != lfdi(certificate_der(p.clients["client"].cert)),
    "wrong-sfdi": lambda http, s, p: not has_valid_check_digit(int(text(client_end_device(http, p), "sFDI"))),
    "wrong-pin": lambda http, s, p: text(root_of(http.get("/edev/1/rg")), "pIN") == "111116",
    "no-redirect": lambda http, s, p: httpx.get(s.http_url + "/dcap").status_code == 404,
    "redirect-to-http": lambda http, s, p: httpx.get(s.http_url + "/dcap").headers["location"].startswith(
        "http://"
    ),
    "disallowed-method-accepted": lambda http, s, p: http.put("/dcap", content=b"<x/>").status_code == 200,
    "missing-allow-header": lambda http, s, p: "allow" not in http.post("/derp", content=b"<x/>").headers,
    "unknown-method-400": lambda http, s, p: http.request("FOO", "/dcap").status_code == 400,
    "bad-host-accepted": _raw_host("bad host!"),
    "not-found-200": lambda http, s, p: http.get("/no/such/path").status_code == 200,
    "fsa-broken-link": _fsa_broken,
    "no-ccm8-suite": lambda http, s, p: not _handshake(s, p, "ECDHE-ECDSA-AES128-CCM8")[0],
    "client-cert-not-requested": lambda http, s, p: not _handshake(s, p, certificate=False)[1],
    "client-trust-too-wide": lambda http, s, p: _accepted(p, s, "self-signed") and _accepted(p, s, "wrong-ca"),
    "client-cert-profile-unchecked": lambda http, s, p: all(
        _accepted(p, s, name) for name in ("mica-eku-critical", "mica-name-constraints", "mica-policy-mappings",
                                           "wrong-curve")),
    "client-chain-length-two-only": lambda http, s, p: not _accepted(p, s, "mica-dev"),
    "response-rejected": lambda http, s, p: _post_response(http).status_code == 400,
    "curve-list-head-500": lambda http, s, p: http.head("/derp/1/dc").status_code == 500,
    "edev-subtree-405-no-allow": lambda http, s, p: "allow" not in http.post("/edev/1/di", content=b"<x/>").headers,
    "logevent-delete-refused": lambda http, s, p: http.delete("/edev/1/lel/1").status_code == 405,
}


# Defects whose misbehaviour needs more than one request to show are proven in their own modules.
PROVEN_ELSEWHERE = {
    "no-date-header": "test_reference_http.py",
    "body-not-validated": "test_reference_bodies.py",
    "edev-not-scoped": "test_reference_access.py",
    "mup-not-scoped": "test_reference_access.py",
    "edev-duplicate-lfdi": "test_reference_access.py",
    "edev-list-wrong-order": "test_reference_access.py (lists not scoped); test_reference_verdicts.py "
                             "(CORE-004, the aggregator's EndDeviceList)",
    "mup-duplicate-mrid": "test_reference_metering.py",
    "mup-get-includes-readings": "test_reference_metering.py",
    "mup-readings-refused": "test_reference_metering.py",
    "upt-empty": "test_reference_metering.py",
    "event-status-always-scheduled": "test_reference_events.py",
    "ended-event-listed": "test_reference_events.py",
    "dercontrol-list-wrong-order": "test_reference_events.py",
    "der-put-not-stored": "test_reference_verdicts.py (CORE-009, CORE-014, BASIC-028)",
    "der-put-returns-200": "test_reference_verdicts.py (CORE-014)",
    "logevent-list-oldest-first": "test_reference_verdicts.py (BASIC-027)",
    "fsa-derp-list-wrong-order": "test_reference_verdicts.py (CORE-010, CORE-011)",
    "group-primacy-inverted": "test_reference_verdicts.py (BASIC-002)",
    "fsa-missing-time-link": "test_reference_verdicts.py (BASIC-002)",
    "dercontrol-list-latest-first": "test_event_warnings.py (BASIC-019, a warning)",
    "randomization-dropped": "test_reference_verdicts.py (CORE-021)",
    "dderc-ignores-setting": "test_reference_verdicts.py (BASIC-018)",
    "overlap-superseded": "test_reference_verdicts.py (BASIC-024, BASIC-025)",
    "subscription-no-location": "test_reference_verdicts.py (CORE-018, CORE-019)",
    "notification-not-sent": "test_reference_verdicts.py (CORE-018, CORE-019)",
    "notification-wrong-resource": "test_reference_verdicts.py (CORE-018)",
    "notification-ignores-limit": "test_reference_verdicts.py (ERR-002)",
    "notification-sent-twice": "test_reference_verdicts.py (CORE-019)",
    "fsa-list-not-subscribable": "test_reference_verdicts.py (CORE-018)",
    "edev-not-subscribable": "test_reference_verdicts.py (CORE-019)",
    "subscriptions-lost-on-reset": "test_reference_verdicts.py (ERR-002)",
    "cancellation-status-0": "test_reference_verdicts.py (ERR-002)",
    "subscription-kept-after-400": "test_reference_verdicts.py (ERR-002)",
    "deleted-enddevice-not-notified": "test_reference_verdicts.py (MAINT-001, MAINT-002)",
    "edev-delete-refused": "test_reference_verdicts.py (MAINT-002)",
    "aggregator-sees-own-only": "test_reference_verdicts.py (AGG-002 .. AGG-012)",
    "topology-branch-crossed": "test_reference_verdicts.py (AGG-002 .. AGG-012)",
    "curve-points-reordered": "test_reference_verdicts.py (BASIC-004, BASIC-011), test_reference_curves.py",
    "curve-wrong-type": "test_reference_verdicts.py (BASIC-005), test_reference_curves.py",
    "curve-multipliers-dropped": "test_reference_verdicts.py (BASIC-012), test_reference_curves.py",
    "curve-settings-dropped": "test_reference_verdicts.py (BASIC-006), test_reference_curves.py",
    "dderc-drops-settings": "test_reference_verdicts.py (BASIC-007)",
    "dercontrol-drops-mode": "test_reference_verdicts.py (BASIC-008 .. BASIC-014)",
    "cancelled-event-stays-scheduled": "test_reference_verdicts.py (BASIC-015, CORE-022)",
    "event-status-date-stale": "test_reference_verdicts.py (CORE-022)",
    "topology-change-ignored": "test_reference_verdicts.py (BASIC-003)",
    "enddevice-lfdi-omitted": "test_wadl_allowances.py (COMM-003, UTIL-002 .. UTIL-004 pass without lFDIs)",
    "power-factor-rescaled": "test_wadl_allowances.py (BASIC-002, BASIC-017, BASIC-022, CORE-013, UTIL-004 pass on "
                             "the power factor's other encoding)",
    **{name: "tests/nats/test_reference_nats.py" for name in (
        "tunnel-success-200", "tunnel-errors-500", "tunnel-drops-body", "nats-silent", "nats-wrong-subject",
        "nats-malformed-reply", "nats-flood", "jetstream-drops-backlog")},
    "notifications-not-stored": "tests/nats/test_notifications_jetstream.py",
    **{name: "test_reference_verdicts.py (COMM-001), tests/engine/test_discovery.py" for name in (
        "xmdns-dcap-no-slash", "xmdns-no-https-key", "xmdns-qu-ignored")},
}


def test_every_defect_is_proven() -> None:
    assert set(DEFECT_CHECKS).isdisjoint(PROVEN_ELSEWHERE)
    assert set(DEFECT_CHECKS) | set(PROVEN_ELSEWHERE) == set(DEFECTS)


@pytest.mark.parametrize("name", sorted(DEFECT_CHECKS))
def test_defect_changes_the_behaviour_it_names(
    name: str,
    defect_servers: dict[str, ReferenceProcess],
    clean_server: ReferenceProcess,
    client: httpx.Client,
    reference_pki: TestPki,
) -> None:
    check = DEFECT_CHECKS[name]
    assert not check(client, clean_server, reference_pki), f"the clean server already shows {name}"
    server = defect_servers[name]
    assert server.defects == [name]
    with tls_client(reference_pki, server) as http:
        assert check(http, server, reference_pki), f"{name} did not change the behaviour: {DEFECTS[name]}"


def test_invalid_dercontrol_fails_the_schema(
    defect_servers: dict[str, ReferenceProcess], reference_pki: TestPki
) -> None:
    schema = SchemaSet.bundled()
    with tls_client(reference_pki, defect_servers["invalid-dercontrol"]) as http:
        findings = schema.validate(root_of(http.get("/derp/1/derc/1")))
    assert [(f.kind, f.path) for f in findings] == [("schema", "/DERControl/description")]
    assert "expected mRID" in findings[0].message
