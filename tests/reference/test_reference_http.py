"""The h11 front end's Date header (RFC 9110 §6.6.1) on every listener of the reference server, and its defect."""

from __future__ import annotations

import email.utils
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep.tls import client_context
from harness.server.http import HttpRequest, HttpResponse, http_date, start_http_server

DAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
IMF_FIXDATE = rf"^{DAY}, \d{{2}} {MONTH} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}} GMT$"


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    """A clean reference server and one with the no-date-header defect, "client" pre-registered."""
    options = {"preregister": [(pki.clients["client"].cert, 111115)]}
    with start_reference_server(pki, **options) as clean, \
            start_reference_server(pki, defects=["no-date-header"], **options) as dateless:
        yield {"clean": clean, "no-date-header": dateless}


def _tls(pki: TestPki, server: ReferenceProcess) -> httpx.Client:
    pair = pki.clients["client"]
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=5)


def _assert_date_now(response: httpx.Response) -> None:
    date = response.headers.get("date")
    assert date is not None and re.match(IMF_FIXDATE, date), f"{response.request.url}: Date {date!r}"
    assert abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) < 5


def test_every_listener_sends_a_date(servers: dict[str, ReferenceProcess], pki: TestPki) -> None:
    server = servers["clean"]
    with _tls(pki, server) as http:
        for path in ("/dcap", "/edev", "/no/such/path"):  # 200, 200 and 404 alike
            _assert_date_now(http.get(path))
        _assert_date_now(http.post("/edev", content=b"not xml"))  # a 400 with an Error body too
    _assert_date_now(httpx.get(server.http_url + "/dcap"))  # the plain-HTTP 301
    _assert_date_now(httpx.get(server.admin_url + "/admin/state"))  # the admin interface's 401


def test_unparseable_request_answer_carries_a_date(servers: dict[str, ReferenceProcess]) -> None:
    with socket.create_connection(("127.0.0.1", servers["clean"].http_port), timeout=5) as sock:
        sock.sendall(b"GET /dcap HTTP/1.1\r\nHost\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400") and b"\r\nDate: " in reply


async def test_a_handler_date_is_kept_and_send_date_off_leaves_it_out() -> None:
    async def fixed(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("Date", "Sun, 06 Nov 1994 08:49:37 GMT")])

    async def plain(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200)

    kept = await start_http_server(fixed)
    off = await start_http_server(plain, send_date=False)
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{kept.port}/")
            assert answer.headers.get_list("date") == ["Sun, 06 Nov 1994 08:49:37 GMT"]
            assert "date" not in (await http.get(f"http://127.0.0.1:{off.port}/")).headers
    finally:
        await kept.close()
        await off.close()


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_no_date_header_defect_drops_the_date(servers: dict[str, ReferenceProcess], pki: TestPki) -> None:
    server = servers["no-date-header"]
    with _tls(pki, server) as http:
        assert "date" not in http.get("/dcap").headers
    assert "date" not in httpx.get(server.http_url + "/dcap").headers
    # The admin listener is no 2030.5 interface: the defect leaves its Date alone.
    _assert_date_now(httpx.get(server.admin_url + "/admin/state"))
