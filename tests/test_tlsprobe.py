"""The TLS probe against raw TCP servers that refuse in each way COMM-004 errata 7 allows, or stay silent."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Callable, Iterator

import dpkt
import pytest

from harness.pki import TestPki
from harness.sep.tls import client_context
from harness.transport.base import TIMEOUT, Request
from harness.transport.pcap import pcap_bytes
from harness.transport.tlsprobe import ALERT, DISCONNECT, INCOMPLETE, REFUSAL_KIND, ProbeResult, probe

FATAL_UNKNOWN_CA = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 48])  # an Alert record: fatal, unknown_ca


def _serve_once(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        connection, _ = listener.accept()
        with connection:
            answer(connection)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(5)


def _alert(connection: socket.socket) -> None:
    connection.recv(65536)  # the ClientHello
    connection.sendall(FATAL_UNKNOWN_CA)


def _close(connection: socket.socket) -> None:
    connection.recv(65536)


def _silent(connection: socket.socket) -> None:
    connection.recv(65536)
    connection.recv(65536)  # until the probe gives up and closes


@pytest.fixture(params=[(_alert, ALERT), (_close, DISCONNECT)], ids=["alert", "disconnect"])
def refusing(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    answer, outcome = request.param
    for port in _serve_once(answer):
        yield port, outcome


def _probe(pki: TestPki, port: int, **limits: float) -> ProbeResult:
    pair = pki.clients["client"]
    context = client_context(pair.cert, pair.key, pki.ca)
    return asyncio.run(probe(Request("GET", f"https://127.0.0.1:{port}/dcap"), context, **limits))


def test_a_refused_handshake_is_its_outcome_and_its_trace_holds_both_sides(pki: TestPki,
                                                                          refusing: tuple[int, str]) -> None:
    port, outcome = refusing
    result = _probe(pki, port)
    exchange = result.exchange
    assert exchange.error_kind == REFUSAL_KIND and exchange.response is None
    assert exchange.tls["outcome"] == outcome
    if outcome == ALERT:
        assert exchange.tls["alert"] == "fatal unknown_ca" and "ALERT_UNKNOWN_CA" in exchange.error
    assert result.segments[0].outbound and result.segments[0].data.startswith(b"\x16\x03")  # the ClientHello
    packets = [dpkt.ethernet.Ethernet(buf).data for _, buf in
               dpkt.pcap.Reader(io.BytesIO(pcap_bytes(result.segments, result.local, result.remote)))]
    ports = {(ip.data.sport, ip.data.dport) for ip in packets}
    assert ports == {(result.local[1], port), (port, result.local[1])}
    from_server = b"".join(ip.data.data for ip in packets if ip.data.sport == port)
    assert from_server == (FATAL_UNKNOWN_CA if outcome == ALERT else b"")
    assert any(ip.data.flags & dpkt.tcp.TH_FIN for ip in packets if ip.data.sport == port) == (outcome == DISCONNECT)


def test_a_silent_server_is_a_timeout_not_a_refusal(pki: TestPki) -> None:
    for port in _serve_once(_silent):
        result = _probe(pki, port, read_timeout=0.3)
    assert result.exchange.error_kind == TIMEOUT and result.exchange.tls["outcome"] == INCOMPLETE


def test_a_closed_port_is_a_connect_error(pki: TestPki) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _probe(pki, port)
    assert result.exchange.error_kind == "connect" and result.exchange.tls is None and result.segments == []
