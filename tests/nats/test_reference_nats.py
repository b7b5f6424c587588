"""The reference server over NATS, native and behind the InterSTORE tunnel, through the harness's NatsTransport;
its tunnel misbehaviours and wire misbehaviours as named defects; identity from NATS TLS or the envelope."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import nats
import pytest

from harness.pki import TestPki
from harness.reference.natsd import NatsServer
from harness.reference.process import ReferenceProcess
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.identity import certificate_der, lfdi, sfdi, with_check_digit
from harness.sep.safexml import parse_xml
from harness.sep.tls import client_context
from harness.transport.base import CONNECT, PROTOCOL, TIMEOUT, Exchange, Request
from harness.transport.nats import FLOOD, INTERSTORE, NATIVE, NatsMapping, NatsTransport
from tests.nats.conftest import reference_over_nats

MAPPINGS = [NATIVE, INTERSTORE]


def edev(pki: TestPki, name: str = "client", number: int | None = None) -> bytes:
    """An EndDevice of the named client's own sFDI (or of number), as a PUT or a POST to /edev carries it."""
    number = number or sfdi(certificate_der(pki.clients[name].cert))
    return (f'<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>{number}</sFDI>'
            "<changedTime>1795988795</changedTime></EndDevice>").encode()


def transport(pki: TestPki, server: NatsServer, mode: str, name: str = "client", timeout: float = 3.0,
              **mapping: object) -> NatsTransport:
    pair = pki.clients[name]
    der = certificate_der(pair.cert)
    context = client_context(pair.cert, pair.key, pki.ca) if server.tls else None
    return NatsTransport(server.url, NatsMapping(mode, **mapping), ssl_context=context,  # type: ignore[arg-type]
                         lfdi=lfdi(der), sfdi=str(sfdi(der)), timeout=timeout)


def exchange(t: NatsTransport, method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
             ) -> Exchange:
    async def go() -> Exchange:
        try:
            return await t.exchange(Request(method, f"{t.server}{path}", headers or [], body))
        finally:
            await t.aclose()
    return asyncio.run(go())


@pytest.fixture(scope="module")
def reference(nats_pki: TestPki, natsd: NatsServer) -> Iterator[ReferenceProcess]:
    with reference_over_nats(nats_pki, natsd) as server:
        yield server


@pytest.mark.parametrize("mode", MAPPINGS)
def test_resources_come_back_as_over_https(nats_pki: TestPki, natsd: NatsServer, reference: ReferenceProcess,
                                            mode: str) -> None:
    got = exchange(transport(nats_pki, natsd, mode), "GET", "/dcap", headers=[("Accept", MEDIA_TYPE_XML)])
    assert got.ok, got.error
    assert got.response.status == 200 and got.response.header("Content-Type") == MEDIA_TYPE_XML
    assert b"<DeviceCapability" in got.response.body and got.response.header("Date")
    assert got.transport == ("nats" if mode == NATIVE else "nats-interstore")
    missing = exchange(transport(nats_pki, natsd, mode), "GET", "/nowhere")
    assert missing.response.status == 404


@pytest.mark.parametrize("mode", MAPPINGS)
def test_a_put_gets_204(nats_pki: TestPki, natsd: NatsServer, reference: ReferenceProcess, mode: str) -> None:
    href = own_end_device(transport(nats_pki, natsd, mode))
    got = exchange(transport(nats_pki, natsd, mode), "PUT", href, edev(nats_pki), XML)
    assert got.ok and got.response.status == 204, got.error


@pytest.mark.parametrize("mode", MAPPINGS)
def test_identity_decides_what_is_served(nats_pki: TestPki, natsd: NatsServer, reference: ReferenceProcess,
                                         mode: str) -> None:
    """The registered client sees its EndDevice list; the unregistered one gets 403 (subject token/envelope)."""
    mine = exchange(transport(nats_pki, natsd, mode), "GET", "/edev")
    assert mine.response.status == 200 and lfdi(certificate_der(nats_pki.clients["client"].cert)).upper().encode() \
        in mine.response.body.upper()
    stranger = exchange(transport(nats_pki, natsd, mode, "other"), "GET", "/edev")
    assert stranger.response.status == 403


def test_nobody_on_the_subject_is_no_responders_naming_it(nats_pki: TestPki, natsd: NatsServer) -> None:
    got = exchange(transport(nats_pki, natsd, NATIVE, request_subject="nobody.{lfdi}"), "GET", "/dcap")
    assert got.error_kind == CONNECT and "no responders on nobody." in got.error


def test_an_unanswered_tunnel_request_is_a_timeout_naming_the_reply_subject(nats_pki: TestPki,
                                                                             natsd: NatsServer) -> None:
    got = exchange(transport(nats_pki, natsd, INTERSTORE, timeout=0.5, tunnel_requests="nobody.listens"),
                   "GET", "/dcap")
    assert got.error_kind == TIMEOUT and "no answer on ieee2030.responses." in got.error
    assert "nobody.listens" in got.error


@pytest.fixture(scope="module", params=["nats-silent", "nats-wrong-subject", "nats-malformed-reply", "nats-flood"])
def misbehaving(request: pytest.FixtureRequest, nats_pki: TestPki) -> Iterator[tuple[str, NatsServer]]:
    with NatsServer() as server, reference_over_nats(nats_pki, server, request.param):
        yield request.param, server


EXPECTED = {"nats-silent": (TIMEOUT, "no answer on"), "nats-wrong-subject": (TIMEOUT, "no answer on"),
            "nats-malformed-reply": (PROTOCOL, "malformed answer on"), "nats-flood": (FLOOD, "answers on")}


@pytest.mark.parametrize("mode", MAPPINGS)
def test_wire_misbehaviour_is_an_error_naming_the_subject_and_the_next_request_still_runs(
        nats_pki: TestPki, misbehaving: tuple[str, NatsServer], mode: str) -> None:
    defect, server = misbehaving
    t = transport(nats_pki, server, mode, timeout=0.5)

    async def two() -> tuple[Exchange, Exchange]:
        try:
            return (await t.exchange(Request("GET", f"{t.server}/dcap")),
                    await t.exchange(Request("GET", f"{t.server}/tm")))
        finally:
            await t.aclose()
    first, second = asyncio.run(two())
    kind, fragment = EXPECTED[defect]
    for got in (first, second):
        assert got.error_kind == kind and fragment in got.error, (defect, got.error)
        subject = "_INBOX." if mode == NATIVE else "ieee2030.responses."
        assert subject in got.error


def own_end_device(t: NatsTransport) -> str:
    """The href of the client's own EndDevice, from its scoped EndDeviceList."""
    listing = exchange(t, "GET", "/edev").response
    assert listing is not None and listing.status == 200
    return parse_xml(listing.body).find(f"{{{NS}}}EndDevice").get("href")


XML = [("Content-Type", MEDIA_TYPE_XML)]


@pytest.mark.parametrize(("defect", "native_status", "tunnel_status"), [
    ("tunnel-success-200", 204, 200),  # a PUT's 204 comes back 200 with Content-Length: 0
    ("tunnel-drops-body", 204, 400),  # the PUT reaches the server empty and is refused
])
def test_tunnel_defects_on_a_put(nats_pki: TestPki, defect: str, native_status: int, tunnel_status: int) -> None:
    with NatsServer() as server, reference_over_nats(nats_pki, server, defect):
        href = own_end_device(transport(nats_pki, server, NATIVE))
        native = exchange(transport(nats_pki, server, NATIVE), "PUT", href, edev(nats_pki), XML)
        tunnel = exchange(transport(nats_pki, server, INTERSTORE), "PUT", href, edev(nats_pki), XML)
    assert (native.response.status, tunnel.response.status) == (native_status, tunnel_status)


def test_tunnel_errors_500_flattens_every_error(nats_pki: TestPki) -> None:
    with NatsServer() as server, reference_over_nats(nats_pki, server, "tunnel-errors-500"):
        native = exchange(transport(nats_pki, server, NATIVE), "GET", "/nowhere")
        tunnel = exchange(transport(nats_pki, server, INTERSTORE), "GET", "/nowhere")
        refused = exchange(transport(nats_pki, server, INTERSTORE, "other"), "GET", "/edev")
    assert (native.response.status, tunnel.response.status, refused.response.status) == (404, 500, 500)
    assert tunnel.response.headers == [] and tunnel.response.body == b""


def test_tunnel_success_200_drops_a_201s_location(nats_pki: TestPki) -> None:
    """Behind InterSTORE's tunnel a 201 comes back 200 without Location; natively the 201 stands."""
    registrar = nats_pki.clients["other"].cert
    with NatsServer() as server, reference_over_nats(nats_pki, server, "tunnel-success-200", registrars=[registrar]):
        first, second = (edev(nats_pki, number=with_check_digit(n)) for n in (11111111111, 22222222222))
        native = exchange(transport(nats_pki, server, NATIVE, "other"), "POST", "/edev", first, XML)
        tunnel = exchange(transport(nats_pki, server, INTERSTORE, "other"), "POST", "/edev", second, XML)
    assert native.response.status == 201 and native.response.header("Location")
    assert tunnel.response.status == 200 and tunnel.response.header("Location") is None


# --- NATS TLS with certificate-mapped users ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_tls(nats_pki: TestPki, natsd_tls: NatsServer) -> Iterator[ReferenceProcess]:
    with reference_over_nats(nats_pki, natsd_tls) as server:
        yield server


def test_native_identity_comes_from_the_nats_tls_certificate(nats_pki: TestPki, natsd_tls: NatsServer,
                                                             reference_tls: ReferenceProcess) -> None:
    mine = exchange(transport(nats_pki, natsd_tls, NATIVE), "GET", "/edev")
    assert mine.ok and mine.response.status == 200, mine.error
    assert exchange(transport(nats_pki, natsd_tls, NATIVE, "other"), "GET", "/edev").response.status == 403


def test_a_device_cannot_speak_on_another_devices_subject(nats_pki: TestPki, natsd_tls: NatsServer,
                                                          reference_tls: ReferenceProcess) -> None:
    """"other" publishing on "client"'s subject is refused by the NATS server: nothing answers, the error names it."""
    client_lfdi = lfdi(certificate_der(nats_pki.clients["client"].cert)).lower()
    forged = transport(nats_pki, natsd_tls, NATIVE, "other", timeout=0.5,
                       request_subject=f"ieee2030.server.{client_lfdi}")
    got = exchange(forged, "GET", "/edev")
    assert got.response is None and f"ieee2030.server.{client_lfdi}" in (got.error or "")


def test_a_client_without_a_certificate_is_refused_by_the_nats_server(natsd_tls: NatsServer) -> None:
    async def bare() -> None:
        await nats.connect(natsd_tls.url, allow_reconnect=False, connect_timeout=2)
    with pytest.raises(Exception):  # noqa: B017 - nats-py raises different errors per version; any refusal will do
        asyncio.run(bare())


def test_tunnel_identity_is_the_envelopes(nats_pki: TestPki, natsd_tls: NatsServer,
                                          reference_tls: ReferenceProcess) -> None:
    got = exchange(transport(nats_pki, natsd_tls, INTERSTORE), "GET", "/edev")
    assert got.ok and got.response.status == 200, got.error


def test_a_url_off_the_nats_server_is_never_sent(nats_pki: TestPki, natsd: NatsServer) -> None:
    t = transport(nats_pki, natsd, NATIVE)

    async def go() -> Exchange:
        try:
            return await t.exchange(Request("GET", "http://127.0.0.1:8080/dcap"))
        finally:
            await t.aclose()
    got = asyncio.run(go())
    assert got.error_kind == "foreign-host" and "http://127.0.0.1:8080/dcap" in got.error
