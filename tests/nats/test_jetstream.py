"""Resilience as CUPID promises it: native requests stored in JetStream while the server is away are answered
when it comes back; a server that drops that backlog leaves the request unanswered, an error naming the subject."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.pki import TestPki
from harness.reference.natsd import NatsServer
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.transport.base import CONNECT, TIMEOUT, Exchange, Request
from harness.transport.nats import NATIVE, NatsMapping, NatsTransport
from tests.nats.conftest import reference_over_nats


def stored_transport(pki: TestPki, server: NatsServer, timeout: float) -> NatsTransport:
    der = certificate_der(pki.clients["client"].cert)
    return NatsTransport(server.url, NatsMapping(NATIVE, jetstream=True), lfdi=lfdi(der), sfdi=str(sfdi(der)),
                         timeout=timeout)


async def get_dcap(t: NatsTransport) -> Exchange:
    try:
        return await t.exchange(Request("GET", f"{t.server}/dcap"))
    finally:
        await t.aclose()


@pytest.mark.parametrize(("defects", "answered"), [((), True), (("jetstream-drops-backlog",), False)],
                         ids=["kept", "dropped"])
def test_a_request_sent_while_the_server_is_away_is_answered_when_it_is_back(
        nats_pki: TestPki, defects: tuple[str, ...], answered: bool) -> None:
    with NatsServer(jetstream=True) as natsd:
        # The server makes its stream and durable consumer, then goes away.
        reference_over_nats(nats_pki, natsd, *defects, extra=["--nats-jetstream"], timeout=30).stop()

        async def scenario() -> Exchange:
            pending = asyncio.ensure_future(get_dcap(stored_transport(nats_pki, natsd, timeout=20 if answered else 6)))
            await asyncio.sleep(1.0)  # the request is stored; nobody is there to answer it
            assert not pending.done()
            server = await asyncio.to_thread(reference_over_nats, nats_pki, natsd, *defects,
                                             extra=["--nats-jetstream"], timeout=30)
            try:
                return await pending
            finally:
                await asyncio.to_thread(server.stop)
        started = time.monotonic()
        got = asyncio.run(scenario())
    if answered:
        assert got.ok and got.response.status == 200 and b"<DeviceCapability" in got.response.body, got.error
        assert time.monotonic() - started > 1.0
    else:
        assert got.error_kind == TIMEOUT and "ieee2030.server." in got.error


def test_without_a_stream_the_stored_request_is_refused_naming_the_subject(nats_pki: TestPki) -> None:
    with NatsServer(jetstream=True) as natsd:
        got = asyncio.run(get_dcap(stored_transport(nats_pki, natsd, timeout=2)))
    assert got.error_kind == CONNECT and "JetStream did not store the request on ieee2030.server." in got.error
